// The shapes of the jupyter_fujita API (see docs/api.md), the ids of the page hooks and commands,
// and the token through which other plugins can reach the process model.
//
// The wire types mirror jupyter_fujita/wire.py, where they are declared once as msgspec Structs:
// `ProcessState` is its `State`, `ACTIVE_STATES` its `ACTIVE`, `IStatus` its `Status`,
// `IDjangoError` its `DjangoError`, `IHint` its `Hint`, `IDebuggerLocation` its
// `DebuggerLocation`, `ILine` its `Line`. Change both together.
//
// Three kinds of change, named the way docs/api.md names them:
// - a lifecycle action: `POST processes/{name}/start|stop|restart` (`LifecycleAction`);
// - the same for every process at once: `POST processes/all/start|stop|restart`;
// - a hint's action: `POST processes/{name}/actions/{action}` (`migrate`, `merge-migrations`,
//   `next-port`, `restart`; all but `restart` only for `django`);
// - stdin: `POST processes/{name}/stdin` writes to runserver's stdin (answers the debugger).
import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';

import { ITracebackRole } from './traceback';

/** The plugin id, also the prefix of our other ids. */
export const PLUGIN_ID = 'jupyter-fujita:plugin';

/** The id of the sidebar widget (a stable page hook). */
export const SIDEBAR_ID = 'jupyter-fujita-sidebar';

/** The id of the preview tab in the main area (one per page). */
export const PREVIEW_ID = 'jupyter-fujita-preview';

/** The process shown when the server has one of that name. */
export const DEFAULT_PROCESS = 'django';

/** Commands, all in the palette under the category "Django". */
export namespace CommandIDs {
  /** Start, stop, restart: args `{name?}`, the process (without it: Django). */
  export const start = 'fujita:start';
  export const stop = 'fujita:stop';
  export const restart = 'fujita:restart';
  /** Every process at once (`processes/all/start|stop`); enabled with more than one process. */
  export const startAll = 'fujita:start-all';
  export const stopAll = 'fujita:stop-all';
  export const openSidebar = 'fujita:open-sidebar';
  /** The launcher card: show the sidebar and start Django when it is not up. */
  export const launch = 'fujita:launch';
  export const clearLog = 'fujita:clear-log';
  /** Open (or show) the site in a main-area tab; args `{path?}`, a path inside the site. */
  export const openPreview = 'fujita:open-preview';
  /** Open a file (relative to the Jupyter root) in the editor; args `{path, line?}`. */
  export const openFile = 'fujita:open-file';
  /** Run a hint's action; args `{action}` ("migrate", "next-port", "restart"). */
  export const runHintAction = 'fujita:run-hint-action';
  /** Write to runserver's stdin (answers the debugger); args `{text}`. */
  export const writeStdin = 'fujita:write-stdin';
}

export type ProcessState =
  'stopped' | 'starting' | 'running' | 'reloading' | 'broken' | 'paused' | 'stopping' | 'crashed';

/** The states in which runserver is alive and may serve: it can be stopped, it has a URL. */
export const ACTIVE_STATES: readonly ProcessState[] = [
  'starting',
  'running',
  'reloading',
  'broken',
  'paused'
];

export function isActive(state: ProcessState): boolean {
  return ACTIVE_STATES.includes(state);
}

/** What went wrong, as far as the output tells. */
export interface IDjangoError {
  kind: string;
  message: string;
  exception?: string | null;
  file?: string | null;
  line?: number | null;
  seq?: number | null;
  /** A SystemCheckError's checks (empty or absent otherwise). */
  checks?: ICheck[];
}

/** One check of Django's system check framework. */
export interface ICheck {
  id: string;
  level?: string;
  object?: string;
  message: string;
}

/** What Django suggests, and the action that does it; without an action it only informs. */
export interface IHint {
  /** migrations, migration-conflict, port, slow-start, debugger-pin */
  kind: string;
  message: string;
  /** `POST processes/{name}/actions/{action}` runs it. */
  action?: string | null;
  /** The button's text ("Apply 18 migrations"). */
  label?: string | null;
  /** The file it is about, relative to the Jupyter root (a migration, say). */
  file?: string | null;
}

/** Where a request stopped in the debugger (while the state is `paused`). */
export interface IDebuggerLocation {
  file?: string | null;
  line?: number | null;
  function?: string | null;
  /** The prompt's line. */
  seq?: number | null;
}

export interface IStatus {
  name: string;
  state: ProcessState;
  pid: number | null;
  returncode: number | null;
  url: string | null;
  message: string;
  command: string[];
  cwd: string;
  started: string | null;
  ended: string | null;
  restarts: number;
  last_seq: number;
  error: IDjangoError | null;
  /** Absent from servers that do not read Django's output. */
  hints?: IHint[];
  debugger?: IDebuggerLocation | null;
  /**
   * The site through the Jupyter server: a path on it ("/user/alice/fujita/site/django/"), behind
   * Jupyter's login. Null while Django is not up or when the preview is off; absent from servers
   * without the preview route.
   */
  preview_url?: string | null;
  /**
   * "on": the preview is the site's main link (JupyterHub, a Jupyter reached over the network);
   * "offered": the direct address is, unless this browser cannot reach it; "off": no preview.
   */
  preview?: 'on' | 'offered' | 'off';
  /**
   * With `preview` "offered": a URL beside Django's on the server's loopback that answers 204.
   * This browser reaching it means it runs on that machine; Django itself is never asked.
   */
  reach_probe?: string | null;
  /** The project's manage.py, relative to the Jupyter root (absolute outside it); null: none. */
  manage_py?: string | null;
  /** The settings module runserver gets (DJANGO_SETTINGS_MODULE); null when unknown. */
  settings?: string | null;
  /** Why the log is kept in memory only (the disk log failed); null when it is on disk. */
  log_disk_failed?: string | null;
  /** "django": runserver; "program": another process (a worker, a watcher). */
  kind?: ProcessKind;
  /** Where its command comes from. */
  source?: ProcessSource;
  /** The processes started before it, in order. */
  depends_on?: string[];
}

export type ProcessKind = 'django' | 'program';

export type ProcessSource = 'Fujita' | 'Fujita.processes' | 'Procfile' | 'Procfile.dev';

export type Stream = 'stdout' | 'stderr' | 'fujita';

export interface ILine {
  seq: number;
  stream: Stream;
  time: number;
  text: string;
  /** On a request line. */
  request?: IRequest;
  /** On a traceback's `File "…", line N` line inside the Jupyter root. */
  frame?: ITracebackFrame;
  /** Text without its newline yet, published because it stayed idle (a prompt). */
  partial?: boolean;
}

export interface IRequest {
  method: string;
  path: string;
  status: number;
  size?: number | null;
  /** On a 500: the seq of the line that starts its traceback. */
  traceback_seq?: number | null;
}

/** A traceback frame's place in a file, `file` relative to the Jupyter root. */
export interface ITracebackFrame {
  file: string;
  line: number;
}

/** The answer of `GET processes/{name}/log`. */
export interface ILogPage {
  lines: ILine[];
  log_id: string;
  first_seq: number;
  last_seq: number;
  next_since: number;
  /** Lines after `since` that are gone (rotated out of the disk budget). */
  gap: number;
}

/**
 * Plain lines read together, as one record of a `lines` message: `texts[i]` is the text of
 * the line of seq `seq + i`, each of the same stream and time (docs/api.md).
 */
export interface ILineBatch {
  seq: number;
  stream: Stream;
  time: number;
  texts: string[];
}

/** Messages of `fujita/api/processes/{name}/log/ws`. */
export type LogMessage =
  | { type: 'lines'; log_id: string; lines: (ILine | ILineBatch)[] }
  | { type: 'gap'; from_seq: number; to_seq: number }
  | { type: 'cleared' };

/** Messages of `fujita/api/status/ws`. */
export type StatusMessage =
  { type: 'snapshot'; processes: IStatus[] } | { type: 'status'; process: IStatus };

/** One run of the process, from `GET processes/{name}/runs` (oldest first). */
export interface IRun {
  number: number;
  started: string;
  /** Null while it runs. */
  ended: string | null;
  returncode: number | null;
  /** "SIGKILL" when a signal ended it. */
  signal: string | null;
  error: IDjangoError | null;
  /** Its first line in the log, and its last (null while it runs). */
  first_seq: number;
  last_seq: number | null;
  command: string[];
}

/** Start, stop, restart: `POST processes/{name}/{action}`, or `processes/all/{action}`. */
export type LifecycleAction = 'start' | 'stop' | 'restart';

/**
 * What can keep the model busy: a lifecycle action (on the process shown, or `all:` of them),
 * clearing the log, stdin, a hint's action.
 */
export type BusyKey =
  LifecycleAction | `all:${LifecycleAction}` | 'clear' | 'stdin' | `hint:${string}`;

/** Whether the page hears from the server. */
export type Connection = 'connecting' | 'connected' | 'disconnected';

/** One entry of the log as the page holds it: a line, or a marker the page adds. */
export type LogEntry =
  | { kind: 'line'; key: number; line: ILine; traceback?: ITracebackRole | null }
  | { kind: 'gap'; key: number; from: number; to: number }
  | { kind: 'notice'; key: number; text: string }
  /** Lines a..b are on the server but not in the page (earlier lines were read on demand). */
  | { kind: 'unloaded'; key: number; from: number; to: number };

/** The log of one process: bounded, numbered, streamed while someone looks. */
export interface ILogModel {
  /** Oldest first; `key` grows by one per entry, so an entry's index is `key - entries[0].key`. */
  readonly entries: readonly LogEntry[];
  /** The highest seq received (or skipped over by a gap), null before any. */
  readonly lastSeq: number | null;
  /** Emitted after entries were appended ('append'), or removed ('reset': all, or the oldest). */
  readonly changed: ISignal<ILogModel, 'append' | 'reset'>;
  /** Stream while visible; close the socket while nobody looks. */
  setVisible(visible: boolean): void;
  /** Keep at most `count` entries (the maxLines setting). */
  setMaxEntries(count: number): void;
  /**
   * Hold the lines from `seq` on: when they are older than the lines held, read them from the
   * server and put them first (half the page's bound at most when it is full: the oldest lines
   * held make room, an `unloaded` entry marks what is left out).
   */
  loadFrom(seq: number): Promise<void>;
}

/** The recent runs of the process, fetched again when a run starts or ends. */
export interface IRunsModel {
  /** Oldest first; empty until fetched. */
  readonly runs: readonly IRun[];
  /** Why the list could not be fetched; null when it could. */
  readonly error: string | null;
  readonly changed: ISignal<IRunsModel, void>;
  /** Fetch only while someone looks at the list. */
  setVisible(visible: boolean): void;
}

/**
 * The supervised processes as the page knows them: all their statuses, and one of them shown
 * (`processName`, `status`, its log and runs), the one the actions without a name act on.
 */
export interface IFujitaModel {
  /** The process shown. */
  readonly processName: string | null;
  readonly status: IStatus | null;
  /** Every process, in the server's order (`django` first). */
  readonly processes: readonly IStatus[];
  /** Emitted when any process's status changes, or one appears or goes. */
  readonly processesChanged: ISignal<IFujitaModel, readonly IStatus[]>;
  /** Show another process (its status, log and runs). */
  select(name: string): void;
  readonly connection: Connection;
  /** Why the page cannot reach the API, for people; null when it can. */
  readonly connectionError: string | null;
  readonly log: ILogModel;
  readonly runs: IRunsModel;
  readonly statusChanged: ISignal<IFujitaModel, IStatus | null>;
  readonly connectionChanged: ISignal<IFujitaModel, Connection>;
  readonly busyChanged: ISignal<IFujitaModel, void>;
  isBusy(what: BusyKey): boolean;
  /** Whether the lifecycle action makes sense now, on the process shown or `name`. */
  canRunLifecycleAction(action: LifecycleAction, name?: string): boolean;
  /** Start, stop or restart the process shown, or `name`; rejects with a FujitaAPIError. */
  runLifecycleAction(action: LifecycleAction, name?: string): Promise<IStatus>;
  /** Start, stop or restart every process (`processes/all/…`). */
  runAll(action: LifecycleAction): Promise<IStatus[]>;
  clearLog(): Promise<void>;
  /** Run a hint's action (`migrate`, `next-port`, `restart`); rejects with a FujitaAPIError. */
  runHintAction(action: string): Promise<IStatus>;
  /** Write `text` to runserver's stdin (a debugger's answer, with its newline). */
  writeStdin(text: string): Promise<IStatus>;
}

export const IFujitaModel = new Token<IFujitaModel>(
  'jupyter-fujita:IFujitaModel',
  'The Django process supervised by jupyter_fujita: status, log and actions.'
);
