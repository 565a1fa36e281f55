// The Django icon: Django's green square with a white "dj", as on djangoproject.com's favicon,
// so that the sidebar tab, the launcher card, the Running panel and the menu say "Django" at a
// glance. The brand colours stay the same in the light and the dark theme.
import { LabIcon } from '@jupyterlab/ui-components';

const svgstr = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <rect x="1" y="1" width="22" height="22" rx="4" fill="#0c4b33"/>
  <g fill="none" stroke="#ffffff" stroke-width="2.2" stroke-linecap="round">
    <circle cx="8.6" cy="13.8" r="3.1"/>
    <path d="M11.7 5.6v11.3M16.6 10.6v6.6a2.3 2.3 0 0 1-2.3 2.3"/>
  </g>
  <circle cx="16.6" cy="6.9" r="1.4" fill="#ffffff"/>
</svg>`;

export const djangoIcon = new LabIcon({ name: 'jupyter-fujita:django', svgstr });
