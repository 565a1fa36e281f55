// The commands (start, stop, restart, start all and stop all, open the sidebar, preview the site, clear the log; and, for
// the views, open a file at a line, run a hint's action, answer the debugger), their palette
// entries under "Django", and the one place where a failed request becomes an error notification.
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { tabIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { DisposableDelegate, DisposableSet, IDisposable } from '@lumino/disposable';

import { openFileAtLine } from './editor';
import { englishTrans, Trans } from './i18n';
import { djangoIcon } from './icon';
import { LIFECYCLE, lifecycleMakesSense } from './lifecycle';
import { CommandIDs, DEFAULT_PROCESS, IFujitaModel, isActive, LifecycleAction } from './tokens';

export interface ICommandsOptions {
  commands: CommandRegistry;
  model: IFujitaModel;
  palette: ICommandPalette | null;
  /** Open the sidebar, at the log line `seq` when given. */
  openSidebar: (seq?: number) => void;
  /** Open (or show) the preview tab, at `path` inside the site when given. */
  openPreview: (path?: string) => void;
  trans?: Trans;
}

/** Add the commands; disposing the result removes them again. */
export function addCommands(options: ICommandsOptions): IDisposable {
  const { commands, model, palette, openSidebar, openPreview } = options;
  const trans = options.trans ?? englishTrans();
  const disposables = new DisposableSet();

  for (const spec of LIFECYCLE) {
    disposables.add(
      commands.addCommand(spec.command, {
        label: args =>
          typeof args.name === 'string' && args.name !== DEFAULT_PROCESS
            ? spec.named(trans, args.name)
            : spec.label(trans),
        caption: spec.caption(trans),
        icon: spec.icon,
        isEnabled: args => model.canRunLifecycleAction(spec.action, targetOf(model, args.name)),
        execute: args =>
          reportFailure(
            spec.failure(trans),
            model.runLifecycleAction(spec.action, targetOf(model, args.name))
          )
      })
    );
  }
  const allActions: [string, 'start' | 'stop', string, string][] = [
    [
      CommandIDs.startAll,
      'start',
      trans.__('Start All Processes'),
      trans.__('Could not start every process')
    ],
    [
      CommandIDs.stopAll,
      'stop',
      trans.__('Stop All Processes'),
      trans.__('Could not stop every process')
    ]
  ];
  for (const [id, action, label, failure] of allActions) {
    disposables.add(
      commands.addCommand(id, {
        label,
        // only where there is more than Django: the menu and the palette look as before
        isVisible: () => model.processes.length > 1,
        isEnabled: () => allMakesSense(model, action),
        execute: () => reportFailure(failure, model.runAll(action))
      })
    );
  }
  disposables.add(
    commands.addCommand(CommandIDs.openSidebar, {
      label: trans.__('Show Django Panel'),
      caption: trans.__("Show Django's status and log"),
      icon: djangoIcon,
      execute: args => openSidebar(typeof args.seq === 'number' ? args.seq : undefined)
    })
  );
  disposables.add(
    commands.addCommand(CommandIDs.launch, {
      label: args => (args.launcher ? trans.__('Django') : trans.__('Open Django and Start It')),
      caption: trans.__("Show the Django panel and start Django's development server"),
      icon: djangoIcon,
      execute: async () => {
        const name = targetOf(model, undefined);
        if (name !== undefined) {
          model.select(name);
        }
        openSidebar();
        if (model.canRunLifecycleAction('start', name)) {
          await reportFailure(
            trans.__('Could not start Django'),
            model.runLifecycleAction('start', name)
          );
        }
      }
    })
  );
  disposables.add(
    commands.addCommand(CommandIDs.openPreview, {
      label: trans.__('Preview Django Site'),
      caption: trans.__('Show the Django site in a tab, through the Jupyter server'),
      icon: tabIcon,
      isEnabled: () => previewMakesSense(model),
      execute: args => openPreview(typeof args.path === 'string' ? args.path : undefined)
    })
  );
  disposables.add(
    commands.addCommand(CommandIDs.clearLog, {
      label: trans.__('Clear Django Log'),
      caption: trans.__('Clear the log on the server, for every page'),
      isEnabled: () =>
        model.connection === 'connected' && model.processName !== null && !model.isBusy('clear'),
      execute: () => reportFailure(trans.__('Could not clear the log'), model.clearLog())
    })
  );

  disposables.add(
    commands.addCommand(CommandIDs.openFile, {
      label: args =>
        typeof args.path === 'string'
          ? trans.__('Open %1', args.path)
          : trans.__('Open File at Line'),
      caption: trans.__('Open a file of the project in the editor, at a line'),
      execute: args => {
        const path = stringArg(args.path);
        const line = typeof args.line === 'number' ? args.line : null;
        return reportFailure(
          trans.__('Could not open %1', path),
          openFileAtLine(commands, path, line)
        );
      }
    })
  );
  disposables.add(
    commands.addCommand(CommandIDs.runHintAction, {
      label: args => trans.__('Run Django Action: %1', stringArg(args.action)),
      caption: trans.__("Run the action of one of Django's hints (migrate, next-port, restart)"),
      isEnabled: args =>
        model.connection === 'connected' &&
        typeof args.action === 'string' &&
        !model.isBusy(`hint:${args.action}`),
      execute: args => {
        const action = stringArg(args.action);
        return reportFailure(trans.__('Could not run %1', action), model.runHintAction(action));
      }
    })
  );
  disposables.add(
    commands.addCommand(CommandIDs.writeStdin, {
      label: trans.__('Send to Django'),
      caption: trans.__("Write a line to runserver's stdin (answers the debugger)"),
      isEnabled: () => model.connection === 'connected' && !model.isBusy('stdin'),
      execute: args =>
        reportFailure(trans.__('Could not send to Django'), model.writeStdin(stringArg(args.text)))
    })
  );

  if (palette) {
    const ids = [
      ...LIFECYCLE.map(spec => spec.command),
      CommandIDs.startAll,
      CommandIDs.stopAll,
      CommandIDs.openSidebar,
      CommandIDs.openPreview,
      CommandIDs.clearLog
    ];
    for (const id of ids) {
      disposables.add(palette.addItem({ command: id, category: trans.__('Django') }));
    }
  }

  // Menus and palettes re-ask isEnabled when told; told only when an answer may differ, since
  // an open palette renders its items again each time (a status also changes with each line).
  let lastKey = '';
  const changed = (): void => {
    const key = enabledKey(model);
    if (key !== lastKey) {
      lastKey = key;
      commands.notifyCommandChanged();
    }
  };
  model.statusChanged.connect(changed);
  model.processesChanged.connect(changed);
  model.connectionChanged.connect(changed);
  model.busyChanged.connect(changed);
  disposables.add(
    new DisposableDelegate(() => {
      model.statusChanged.disconnect(changed);
      model.processesChanged.disconnect(changed);
      model.connectionChanged.disconnect(changed);
      model.busyChanged.disconnect(changed);
    })
  );
  return disposables;
}

/**
 * Whether the preview tab can show something: there is a process, and its preview is not off
 * (Django is up without a `preview_url`). While Django is stopped the tab says so, and shows the
 * site once it runs.
 */
function previewMakesSense(model: IFujitaModel): boolean {
  const status = model.status;
  if (model.connection !== 'connected' || status === null) {
    return false;
  }
  return Boolean(status.preview_url) || !isActive(status.state);
}

/** Whether `action` on every process makes sense: several processes, one of them in a state for it. */
function allMakesSense(model: IFujitaModel, action: LifecycleAction): boolean {
  const busy = (['start', 'stop', 'restart'] as const).some(a => model.isBusy(`all:${a}`));
  return (
    !busy &&
    model.connection === 'connected' &&
    model.processes.length > 1 &&
    model.processes.some(status => lifecycleMakesSense(action, status.state))
  );
}

/**
 * The process a lifecycle command acts on: the one named, else Django (when the server has it:
 * "Start Django" in the palette means Django whichever tab the sidebar shows), else the one shown.
 */
function targetOf(model: IFujitaModel, name: unknown): string | undefined {
  if (typeof name === 'string') {
    return name;
  }
  return model.processes.some(p => p.name === DEFAULT_PROCESS) ? DEFAULT_PROCESS : undefined;
}

/** What the commands' isEnabled read, in one string: when it is the same, so are they. */
function enabledKey(model: IFujitaModel): string {
  const status = model.status;
  return JSON.stringify([
    model.connection,
    model.processName,
    status?.state,
    Boolean(status?.preview_url),
    model.processes.map(p => p.state),
    (['start', 'stop', 'restart', 'clear', 'stdin'] as const).map(what => model.isBusy(what)),
    (['start', 'stop', 'restart'] as const).map(what => model.isBusy(`all:${what}`)),
    (status?.hints ?? []).map(hint => hint.action && model.isBusy(`hint:${hint.action}`))
  ]);
}

/** Whether `request` succeeded; when not, an error notification says why. */
export async function reportFailure(what: string, request: Promise<unknown>): Promise<boolean> {
  try {
    await request;
    return true;
  } catch (error) {
    Notification.error(`${what}: ${error instanceof Error ? error.message : String(error)}`, {
      autoClose: 8000
    });
    return false;
  }
}

function stringArg(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
