// The user's settings (Settings Editor → Django, schema/plugin.json) as a small model: the values,
// with their defaults until the registry has answered, and a signal on every change, so that the
// log, the view and the notifications honour a change at once, without a reload.
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

export interface IFujitaSettings {
  /** Scroll to each new line while the view is at the bottom. */
  followTail: boolean;
  /** The most log lines the page keeps (older ones are dropped). */
  maxLines: number;
  /** Wrap long lines (else they scroll sideways). */
  wrapLines: boolean;
  /** Show each line's time before it. */
  timestamps: boolean;
  /** A notification when Django crashes. */
  notifyOnCrash: boolean;
  /** A notification when Django breaks (alive, waiting for a fix) or reports an error. */
  notifyOnBroken: boolean;
}

export const DEFAULT_SETTINGS: Readonly<IFujitaSettings> = {
  followTail: true,
  maxLines: 20000,
  wrapLines: true,
  timestamps: false,
  notifyOnCrash: true,
  notifyOnBroken: true
};

/** The bounds the schema states, also applied here (the registry may hold anything). */
const MIN_LINES = 100;
const MAX_LINES = 200000;

export class SettingsModel implements IDisposable {
  get values(): Readonly<IFujitaSettings> {
    return this._values;
  }

  get changed(): ISignal<this, Readonly<IFujitaSettings>> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Follow the registry's settings of `pluginId` from now on. */
  async load(registry: ISettingRegistry, pluginId: string): Promise<void> {
    const settings = await registry.load(pluginId);
    if (this._isDisposed) {
      return;
    }
    this._settings = settings;
    settings.changed.connect(this._onChanged, this);
    this._onChanged(settings);
  }

  /** Change one setting: saved as the user's (the Settings Editor shows it), else for now. */
  async set<K extends keyof IFujitaSettings>(key: K, value: IFujitaSettings[K]): Promise<void> {
    if (this._settings) {
      await this._settings.set(key, value); // `changed` follows
    } else {
      this._values = { ...this._values, [key]: value };
      this._changed.emit(this._values);
    }
  }

  dispose(): void {
    if (!this._isDisposed) {
      this._isDisposed = true;
      this._settings?.changed.disconnect(this._onChanged, this);
      Signal.clearData(this);
    }
  }

  private _onChanged(settings: ISettingRegistry.ISettings): void {
    const composite = settings.composite as Partial<Record<keyof IFujitaSettings, unknown>>;
    const flag = (key: Exclude<keyof IFujitaSettings, 'maxLines'>): boolean => {
      const value = composite[key];
      return typeof value === 'boolean' ? value : DEFAULT_SETTINGS[key];
    };
    const lines = Number(composite.maxLines);
    this._values = {
      followTail: flag('followTail'),
      maxLines: Number.isFinite(lines)
        ? Math.min(MAX_LINES, Math.max(MIN_LINES, Math.round(lines)))
        : DEFAULT_SETTINGS.maxLines,
      wrapLines: flag('wrapLines'),
      timestamps: flag('timestamps'),
      notifyOnCrash: flag('notifyOnCrash'),
      notifyOnBroken: flag('notifyOnBroken')
    };
    this._changed.emit(this._values);
  }

  private _values: Readonly<IFujitaSettings> = DEFAULT_SETTINGS;
  private _settings: ISettingRegistry.ISettings | null = null;
  private readonly _changed = new Signal<this, Readonly<IFujitaSettings>>(this);
  private _isDisposed = false;
}
