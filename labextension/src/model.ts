// The supervised processes as the page knows them: their statuses (from the status WebSocket,
// which reconnects with back-off), the one shown with its log and runs, and the actions on them.
// Views render this and never fetch.
import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { FujitaAPI } from './api';
import { englishTrans, Trans } from './i18n';
import { lifecycleMakesSense } from './lifecycle';
import { LogModel } from './logmodel';
import { RunsModel } from './runs';
import { ReconnectingSocket } from './socket';
import {
  BusyKey,
  Connection,
  DEFAULT_PROCESS,
  IFujitaModel,
  IStatus,
  LifecycleAction,
  ProcessState,
  StatusMessage
} from './tokens';

/** What the badges show: the process state, or why there is none to show. */
export type DisplayState = ProcessState | 'connecting' | 'disconnected' | 'none';

export function displayState(model: IFujitaModel): DisplayState {
  if (model.connection !== 'connected') {
    return model.connection;
  }
  return model.status?.state ?? 'none';
}

/** The states from the one that most needs looking at; a state earlier wins. */
const WORST_FIRST: readonly ProcessState[][] = [
  ['crashed'],
  ['broken'],
  ['paused'],
  ['starting', 'reloading', 'stopping'],
  ['running'],
  ['stopped']
];

/** The process in the worst state (the first of them, in the server's order); null: none. */
export function worstProcess(processes: readonly IStatus[]): IStatus | null {
  const rank = (status: IStatus): number =>
    WORST_FIRST.findIndex(states => states.includes(status.state));
  return processes.reduce<IStatus | null>(
    (worst, status) => (worst === null || rank(status) < rank(worst) ? status : worst),
    null
  );
}

/** One line for people: the status message, or why there is none. */
export function displayMessage(model: IFujitaModel, trans: Trans = englishTrans()): string {
  if (model.connection !== 'connected') {
    return model.connectionError ?? trans.__('Connecting to the Jupyter server…');
  }
  return (
    model.status?.message ?? trans.__('No Django project on this server (no manage.py was found).')
  );
}

export class FujitaModel implements IFujitaModel, IDisposable {
  constructor(
    serverSettings: ServerConnection.ISettings = ServerConnection.makeSettings(),
    private readonly _trans: Trans = englishTrans()
  ) {
    this._api = new FujitaAPI(serverSettings, _trans);
    this.log = new LogModel(this._api);
    this.runs = new RunsModel(this._api);
    this._socket = new ReconnectingSocket({
      // The REST list first: it says why when the API is missing, which a WebSocket cannot.
      prepare: async () => this._applySnapshot(await this._api.listProcesses(), true),
      open: () => this._api.openSocket('status/ws'),
      onMessage: data => this._handle(data as StatusMessage),
      onFailure: reason => this._lost(reason)
    });
  }

  readonly log: LogModel;
  readonly runs: RunsModel;

  get processName(): string | null {
    return this._name;
  }

  get status(): IStatus | null {
    return this._status;
  }

  get processes(): readonly IStatus[] {
    return this._processes;
  }

  get processesChanged(): ISignal<this, readonly IStatus[]> {
    return this._processesChanged;
  }

  select(name: string): void {
    const status = this._processes.find(p => p.name === name);
    if (status && name !== this._name) {
      this._name = name;
      this.log.setProcess(name);
      this._setStatus(status);
    }
  }

  get connection(): Connection {
    return this._connection;
  }

  get connectionError(): string | null {
    return this._connectionError;
  }

  get statusChanged(): ISignal<this, IStatus | null> {
    return this._statusChanged;
  }

  get connectionChanged(): ISignal<this, Connection> {
    return this._connectionChanged;
  }

  get busyChanged(): ISignal<this, void> {
    return this._busyChanged;
  }

  get isDisposed(): boolean {
    return this._socket.isDisposed;
  }

  /** Start listening to the server. */
  connect(): void {
    this._socket.start();
  }

  isBusy(what: BusyKey): boolean {
    return this._busy.has(what);
  }

  canRunLifecycleAction(action: LifecycleAction, name?: string): boolean {
    const status =
      name === undefined ? this._status : (this._processes.find(p => p.name === name) ?? null);
    const busy = (['start', 'stop', 'restart'] as const).some(
      a => this._busy.has(a) || this._busy.has(`all:${a}`)
    );
    return (
      !busy &&
      this._connection === 'connected' &&
      status !== null &&
      lifecycleMakesSense(action, status.state)
    );
  }

  async runLifecycleAction(action: LifecycleAction, name?: string): Promise<IStatus> {
    const target = name ?? this._requireName();
    return this._adopt(
      await this._whileBusy(action, () => this._api.runLifecycleAction(target, action))
    );
  }

  async runAll(action: LifecycleAction): Promise<IStatus[]> {
    const statuses = await this._whileBusy(`all:${action}`, () => this._api.runAll(action));
    statuses.forEach(status => this._adopt(status));
    return statuses;
  }

  async runHintAction(action: string): Promise<IStatus> {
    const name = this._requireName();
    return this._adopt(
      await this._whileBusy(`hint:${action}`, () => this._api.runHintAction(name, action))
    );
  }

  async writeStdin(text: string): Promise<IStatus> {
    const name = this._requireName();
    return this._adopt(await this._whileBusy('stdin', () => this._api.writeStdin(name, text)));
  }

  async clearLog(): Promise<void> {
    const name = this._requireName();
    await this._whileBusy('clear', () => this._api.clearLog(name));
    this.runs.refresh(); // the runs whose lines were cleared are gone too
  }

  dispose(): void {
    if (!this.isDisposed) {
      this._socket.dispose();
      this.log.dispose();
      this.runs.dispose();
      Signal.clearData(this);
    }
  }

  private _handle(message: StatusMessage): void {
    if (message.type === 'snapshot') {
      this._applySnapshot(message.processes, false);
    } else if (message.type === 'status') {
      this._setProcess(message.process);
    }
  }

  /**
   * Take a full list of processes. `checkSeqs` only while the log socket is closed (before it
   * resumes): on two sockets, a snapshot can arrive after lines it does not count.
   */
  private _applySnapshot(processes: IStatus[], checkSeqs: boolean): void {
    const names = processes.map(p => p.name);
    const name =
      this._name !== null && names.includes(this._name)
        ? this._name
        : names.includes(DEFAULT_PROCESS)
          ? DEFAULT_PROCESS
          : (names[0] ?? null);
    const status = processes.find(p => p.name === name) ?? null;
    this._name = name;
    this._processes = processes;
    this._processesChanged.emit(processes);
    this.log.setProcess(name);
    // seq never goes down while a server lives: if it did, this is another server.
    const lastSeq = this.log.lastSeq;
    if (checkSeqs && status && lastSeq !== null && status.last_seq < lastSeq) {
      this.log.reset(this._trans.__('The Jupyter server restarted: the earlier log is gone.'));
    }
    this._setConnection('connected', null);
    this.log.setEnabled(true);
    this._setStatus(status);
  }

  private _lost(reason: string | null): void {
    this.log.setEnabled(false);
    this._setConnection(
      'disconnected',
      reason ?? this._trans.__('Lost the connection to the Jupyter server; reconnecting…')
    );
  }

  /** One process's news: in the list (added when new), and shown when it is the one shown. */
  private _setProcess(status: IStatus): void {
    const at = this._processes.findIndex(p => p.name === status.name);
    this._processes =
      at < 0
        ? [...this._processes, status]
        : this._processes.map((p, i) => (i === at ? status : p));
    this._processesChanged.emit(this._processes);
    if (status.name === this._name) {
      this._setStatus(status);
    }
  }

  private _setStatus(status: IStatus | null): void {
    this._status = status;
    this.runs.follow(status);
    this._statusChanged.emit(status);
  }

  private _setConnection(connection: Connection, error: string | null): void {
    const changed = connection !== this._connection || error !== this._connectionError;
    this._connection = connection;
    this._connectionError = error;
    if (changed) {
      this._connectionChanged.emit(connection);
    }
  }

  /**
   * A request's reply. The status socket is the better witness (a reply can trail its news); use
   * the reply only when the socket is down.
   */
  private _adopt(status: IStatus): IStatus {
    if (this._connection !== 'connected') {
      this._setProcess(status);
    }
    return status;
  }

  private _requireName(): string {
    if (this._name === null) {
      throw new Error(this._trans.__('There is no Django process on this server.'));
    }
    return this._name;
  }

  private async _whileBusy<T>(what: BusyKey, request: () => Promise<T>): Promise<T> {
    this._busy.add(what);
    this._busyChanged.emit();
    try {
      return await request();
    } finally {
      this._busy.delete(what);
      if (!this.isDisposed) {
        this._busyChanged.emit();
      }
    }
  }

  private readonly _api: FujitaAPI;
  private readonly _socket: ReconnectingSocket;
  private readonly _busy = new Set<BusyKey>();
  private readonly _statusChanged = new Signal<this, IStatus | null>(this);
  private readonly _connectionChanged = new Signal<this, Connection>(this);
  private readonly _processesChanged = new Signal<this, readonly IStatus[]>(this);
  private readonly _busyChanged = new Signal<this, void>(this);
  private _name: string | null = null;
  private _status: IStatus | null = null;
  private _processes: readonly IStatus[] = [];
  private _connection: Connection = 'connecting';
  private _connectionError: string | null = null;
}
