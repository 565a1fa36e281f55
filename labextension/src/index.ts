// The plugin: wires the model, the sidebar, the preview tab, the status bar item, the commands, the
// notifications, the settings, the launcher card and the Running panel's section together. (The
// Django menu and the shortcuts are declared in schema/plugin.json.) Everything it creates is
// disposed with the sidebar.
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, Sanitizer, WidgetTracker } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { IRunningSessionManagers } from '@jupyterlab/running';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { DisposableDelegate, DisposableSet } from '@lumino/disposable';

import { addCommands, reportFailure } from './commands';
import { DOMAIN } from './i18n';
import { FujitaModel } from './model';
import { CrashNotifier } from './notify';
import { FujitaPreview } from './preview';
import { DjangoRunningManager, RUNNING_ITEM_CLASS } from './running';
import { SettingsModel } from './settings';
import { FujitaSidebar } from './sidebar';
import { FujitaStatusItem } from './statusbar';
import { CommandIDs, IFujitaModel, PLUGIN_ID, PREVIEW_ID } from './tokens';

const plugin: JupyterFrontEndPlugin<IFujitaModel> = {
  id: PLUGIN_ID,
  description: "A sidebar with Django's runserver status, controls and live log.",
  autoStart: true,
  provides: IFujitaModel,
  optional: [
    ICommandPalette,
    IStatusBar,
    IRenderMimeRegistry,
    ILayoutRestorer,
    ISettingRegistry,
    ILauncher,
    IRunningSessionManagers,
    ITranslator
  ],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    statusBar: IStatusBar | null,
    rendermime: IRenderMimeRegistry | null,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null,
    launcher: ILauncher | null,
    running: IRunningSessionManagers | null,
    translator: ITranslator | null
  ): IFujitaModel => {
    const trans = (translator ?? nullTranslator).load(DOMAIN);
    const model = new FujitaModel(app.serviceManager.serverSettings, trans);
    const settings = new SettingsModel();
    if (settingRegistry) {
      settings.load(settingRegistry, PLUGIN_ID).catch(reason => {
        console.warn('jupyter-fujita: the settings could not be loaded', reason);
      });
    }
    const sidebar = new FujitaSidebar({
      model,
      commands: app.commands,
      sanitizer: rendermime?.sanitizer ?? new Sanitizer(),
      settings,
      trans
    });
    app.shell.add(sidebar, 'left', { rank: 850 });
    restorer?.add(sidebar, sidebar.id);

    const openSidebar = (seq?: number): void => {
      app.shell.activateById(sidebar.id);
      if (seq !== undefined) {
        sidebar.reveal(seq);
      }
    };
    // One preview tab: shown again when open; restored with the layout, at its last path.
    const previews = new WidgetTracker<FujitaPreview>({ namespace: PREVIEW_ID });
    const openPreview = (path?: string): void => {
      let preview = previews.currentWidget;
      if (preview === null || preview.isDisposed) {
        preview = new FujitaPreview({ model, path });
        const added = preview;
        added.pathChanged.connect(() => void previews.save(added));
        void previews.add(added);
        app.shell.add(added, 'main');
      } else if (path !== undefined) {
        preview.navigate(path);
      }
      app.shell.activateById(preview.id);
    };
    void restorer?.restore(previews, {
      command: CommandIDs.openPreview,
      args: preview => ({ path: preview.path }),
      name: () => 'preview'
    });

    const owned = new DisposableSet();
    owned.add(
      addCommands({ commands: app.commands, model, palette, openSidebar, openPreview, trans })
    );
    const showProcess = (name: string, seq?: number): void => {
      model.select(name);
      openSidebar(seq);
    };
    owned.add(new CrashNotifier(model, showProcess, () => settings.values, trans));
    if (launcher) {
      owned.add(
        launcher.add({
          command: CommandIDs.launch,
          args: { launcher: true },
          category: 'Other',
          rank: 1
        })
      );
    }
    if (running) {
      const manager = new DjangoRunningManager({
        model,
        openSidebar: name => showProcess(name),
        stop: name =>
          void reportFailure(
            trans.__('Could not stop %1', name),
            model.runLifecycleAction('stop', name)
          ),
        stopAll: () =>
          void app.commands.execute(
            model.processes.length > 1 ? CommandIDs.stopAll : CommandIDs.stop
          ),
        trans
      });
      owned.add(manager);
      owned.add(running.add(manager));
      owned.add(
        app.contextMenu.addItem({
          command: CommandIDs.restart,
          selector: `.${RUNNING_ITEM_CLASS}`,
          rank: 0
        })
      );
      owned.add(
        app.contextMenu.addItem({
          command: CommandIDs.openSidebar,
          selector: `.${RUNNING_ITEM_CLASS}`,
          rank: 1
        })
      );
    }
    if (statusBar) {
      const item = new FujitaStatusItem({
        model,
        onClick: () => void app.commands.execute(CommandIDs.openSidebar),
        trans
      });
      owned.add(item);
      owned.add(
        statusBar.registerStatusItem(`${PLUGIN_ID}:status`, { item, align: 'left', rank: 4 })
      );
    }
    owned.add(
      new DisposableDelegate(() => {
        previews.forEach(preview => preview.dispose());
        previews.dispose();
      })
    );
    owned.add(model);
    owned.add(settings);
    sidebar.disposed.connect(() => owned.dispose());

    model.connect();
    return model;
  }
};

export default plugin;
