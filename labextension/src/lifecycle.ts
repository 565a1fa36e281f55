// Start, stop and restart: the one table of the lifecycle actions, saying in which states each
// makes sense and how it is offered (command id, icon, texts). The header's buttons and the
// commands both read it. (A hint's action and stdin are other kinds of change: see tokens.ts.)
import { LabIcon, refreshIcon, runIcon, stopIcon } from '@jupyterlab/ui-components';

import { Trans } from './i18n';
import { ACTIVE_STATES, CommandIDs, LifecycleAction, ProcessState } from './tokens';

export interface ILifecycleSpec {
  action: LifecycleAction;
  /** The states in which it makes sense. */
  states: readonly ProcessState[];
  command: string;
  icon: LabIcon;
  /** The button's class in the header. */
  className: string;
  /** The button's short text ("Start"). */
  button: (trans: Trans) => string;
  /** The command's label, also the button's tooltip ("Start Django"). */
  label: (trans: Trans) => string;
  /** The same for another process ("Start worker"). */
  named: (trans: Trans, name: string) => string;
  caption: (trans: Trans) => string;
  /** The start of the notification when the request fails. */
  failure: (trans: Trans) => string;
}

export const LIFECYCLE: readonly ILifecycleSpec[] = [
  {
    action: 'start',
    states: ['stopped', 'crashed'],
    command: CommandIDs.start,
    icon: runIcon,
    className: 'jp-mod-accept',
    button: trans => trans.__('Start'),
    label: trans => trans.__('Start Django'),
    named: (trans, name) => trans.__('Start %1', name),
    caption: trans => trans.__("Start Django's development server"),
    failure: trans => trans.__('Could not start Django')
  },
  {
    action: 'stop',
    states: ACTIVE_STATES,
    command: CommandIDs.stop,
    icon: stopIcon,
    className: 'jp-mod-warn',
    button: trans => trans.__('Stop'),
    label: trans => trans.__('Stop Django'),
    named: (trans, name) => trans.__('Stop %1', name),
    caption: trans => trans.__("Stop Django's development server"),
    failure: trans => trans.__('Could not stop Django')
  },
  {
    action: 'restart',
    states: [...ACTIVE_STATES, 'crashed'],
    command: CommandIDs.restart,
    icon: refreshIcon,
    className: '',
    button: trans => trans.__('Restart'),
    label: trans => trans.__('Restart Django'),
    named: (trans, name) => trans.__('Restart %1', name),
    caption: trans => trans.__("Restart Django's development server"),
    failure: trans => trans.__('Could not restart Django')
  }
];

export function lifecycleSpec(action: LifecycleAction): ILifecycleSpec {
  return LIFECYCLE.find(spec => spec.action === action)!;
}

/** Whether `action` makes sense in `state` (not whether the page can send it now). */
export function lifecycleMakesSense(action: LifecycleAction, state: ProcessState): boolean {
  return lifecycleSpec(action).states.includes(state);
}
