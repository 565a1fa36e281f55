// The plugin: wires the model, the sidebar, the status bar item, the commands and the
// notifications together. Everything it creates is disposed with the sidebar.
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, Sanitizer } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { IStatusBar } from '@jupyterlab/statusbar';
import { DisposableSet } from '@lumino/disposable';

import { addCommands } from './commands';
import { FujitaModel } from './model';
import { CrashNotifier } from './notify';
import { FujitaSidebar } from './sidebar';
import { FujitaStatusItem } from './statusbar';
import { CommandIDs, IFujitaModel, PLUGIN_ID } from './tokens';

const plugin: JupyterFrontEndPlugin<IFujitaModel> = {
  id: PLUGIN_ID,
  description: "A sidebar with Django's runserver status, controls and live log.",
  autoStart: true,
  provides: IFujitaModel,
  optional: [ICommandPalette, IStatusBar, IRenderMimeRegistry, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    statusBar: IStatusBar | null,
    rendermime: IRenderMimeRegistry | null,
    restorer: ILayoutRestorer | null
  ): IFujitaModel => {
    const model = new FujitaModel(app.serviceManager.serverSettings);
    const sidebar = new FujitaSidebar({
      model,
      commands: app.commands,
      sanitizer: rendermime?.sanitizer ?? new Sanitizer()
    });
    app.shell.add(sidebar, 'left', { rank: 850 });
    restorer?.add(sidebar, sidebar.id);

    const openSidebar = (seq?: number): void => {
      app.shell.activateById(sidebar.id);
      if (seq !== undefined) {
        sidebar.reveal(seq);
      }
    };
    const owned = new DisposableSet();
    owned.add(addCommands({ commands: app.commands, model, palette, openSidebar }));
    owned.add(new CrashNotifier(model, openSidebar));
    if (statusBar) {
      const item = new FujitaStatusItem({
        model,
        onClick: () => void app.commands.execute(CommandIDs.openSidebar)
      });
      owned.add(item);
      owned.add(
        statusBar.registerStatusItem(`${PLUGIN_ID}:status`, { item, align: 'left', rank: 4 })
      );
    }
    owned.add(model);
    sidebar.disposed.connect(() => owned.dispose());

    model.connect();
    return model;
  }
};

export default plugin;
