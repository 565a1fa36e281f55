// The commands (start, stop, restart, open the sidebar, preview the site, clear the log; and, for
// the views, open a file at a line, run a hint's action, answer the debugger), their palette
// entries under "Django", and the one place where a failed request becomes an error notification.
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { refreshIcon, runIcon, stopIcon, tabIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { DisposableDelegate, DisposableSet, IDisposable } from '@lumino/disposable';

import { openFileAtLine } from './editor';
import { djangoIcon } from './icon';
import { actionMakesSense } from './model';
import { Action, CommandIDs, IFujitaModel } from './tokens';

const CATEGORY = 'Django';

const ACTIONS: readonly { action: Action; id: string; verb: string; icon: typeof runIcon }[] = [
  { action: 'start', id: CommandIDs.start, verb: 'Start', icon: runIcon },
  { action: 'stop', id: CommandIDs.stop, verb: 'Stop', icon: stopIcon },
  { action: 'restart', id: CommandIDs.restart, verb: 'Restart', icon: refreshIcon }
];

export interface ICommandsOptions {
  commands: CommandRegistry;
  model: IFujitaModel;
  palette: ICommandPalette | null;
  /** Open the sidebar, at the log line `seq` when given. */
  openSidebar: (seq?: number) => void;
  /** Open (or show) the preview tab, at `path` inside the site when given. */
  openPreview: (path?: string) => void;
}

/** Add the commands; disposing the result removes them again. */
export function addCommands(options: ICommandsOptions): IDisposable {
  const { commands, model, palette, openSidebar, openPreview } = options;
  const disposables = new DisposableSet();

  for (const { action, id, verb, icon } of ACTIONS) {
    disposables.add(
      commands.addCommand(id, {
        label: `${verb} Django`,
        caption: `${verb} Django's development server`,
        icon,
        isEnabled: () => model.canRun(action),
        execute: () => reportFailure(`Could not ${action} Django`, model.run(action))
      })
    );
  }
  disposables.add(
    commands.addCommand(CommandIDs.openSidebar, {
      label: 'Show Django Panel',
      caption: "Show Django's status and log",
      icon: djangoIcon,
      execute: args => openSidebar(typeof args.seq === 'number' ? args.seq : undefined)
    })
  );
  disposables.add(
    commands.addCommand(CommandIDs.launch, {
      label: args => (args.launcher ? 'Django' : 'Open Django and Start It'),
      caption: "Show the Django panel and start Django's development server",
      icon: djangoIcon,
      execute: async () => {
        openSidebar();
        if (model.canRun('start')) {
          await reportFailure('Could not start Django', model.run('start'));
        }
      }
    })
  );
  disposables.add(
    commands.addCommand(CommandIDs.openPreview, {
      label: 'Preview Django Site',
      caption: 'Show the Django site in a tab, through the Jupyter server',
      icon: tabIcon,
      isEnabled: () => previewMakesSense(model),
      execute: args => openPreview(typeof args.path === 'string' ? args.path : undefined)
    })
  );
  disposables.add(
    commands.addCommand(CommandIDs.clearLog, {
      label: 'Clear Django Log',
      caption: 'Clear the log on the server, for every page',
      isEnabled: () =>
        model.connection === 'connected' && model.processName !== null && !model.isBusy('clear'),
      execute: () => reportFailure('Could not clear the log', model.clearLog())
    })
  );

  disposables.add(
    commands.addCommand(CommandIDs.openFile, {
      label: args => (typeof args.path === 'string' ? `Open ${args.path}` : 'Open File at Line'),
      caption: 'Open a file of the project in the editor, at a line',
      execute: args => {
        const path = stringArg(args.path);
        const line = typeof args.line === 'number' ? args.line : null;
        return reportFailure(`Could not open ${path}`, openFileAtLine(commands, path, line));
      }
    })
  );
  disposables.add(
    commands.addCommand(CommandIDs.runHint, {
      label: args => `Run Django Action: ${stringArg(args.action)}`,
      caption: "Run the action of one of Django's hints (migrate, next-port)",
      isEnabled: args =>
        model.connection === 'connected' &&
        typeof args.action === 'string' &&
        !model.isBusy(`hint:${args.action}`),
      execute: args => {
        const action = stringArg(args.action);
        return reportFailure(`Could not run ${action}`, model.runHint(action));
      }
    })
  );
  disposables.add(
    commands.addCommand(CommandIDs.sendStdin, {
      label: 'Send to Django',
      caption: "Write a line to runserver's stdin (answers the debugger)",
      isEnabled: () => model.connection === 'connected' && !model.isBusy('stdin'),
      execute: args =>
        reportFailure('Could not send to Django', model.sendStdin(stringArg(args.text)))
    })
  );

  if (palette) {
    const ids = [
      ...ACTIONS.map(a => a.id),
      CommandIDs.openSidebar,
      CommandIDs.openPreview,
      CommandIDs.clearLog
    ];
    for (const id of ids) {
      disposables.add(palette.addItem({ command: id, category: CATEGORY }));
    }
  }

  // Menus and palettes re-ask isEnabled when told.
  const changed = (): void => commands.notifyCommandChanged();
  model.statusChanged.connect(changed);
  model.connectionChanged.connect(changed);
  model.busyChanged.connect(changed);
  disposables.add(
    new DisposableDelegate(() => {
      model.statusChanged.disconnect(changed);
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
  return Boolean(status.preview_url) || !actionMakesSense('stop', status.state);
}

/** Whether `request` succeeded; when not, an error notification says why. */
async function reportFailure(what: string, request: Promise<unknown>): Promise<boolean> {
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
