// The sidebar's icon: a terminal window with a prompt, drawn in the theme's icon colour.
import { LabIcon } from '@jupyterlab/ui-components';

const svgstr = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M4 3h16a2 2 0 0 1 2 2v14a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm0 4v12h16V7z"/>
    <path d="M6 9.5l1.4-1.4 4.4 4.4-4.4 4.4L6 15.5l3-3zM12.5 15h5.5v2h-5.5z"/>
  </g>
</svg>`;

export const djangoIcon = new LabIcon({ name: 'jupyter-fujita:django', svgstr });
