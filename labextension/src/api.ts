// The REST and WebSocket endpoints of jupyter_fujita, under `{base_url}fujita/api/`.
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { englishTrans, Trans } from './i18n';
import { IRun, IStatus, LifecycleAction, ILogPage } from './tokens';

const API_PATH = 'fujita/api';

/** A failed request, with the server's `{"message"}` when it sent one. */
export class FujitaAPIError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
    this.name = 'FujitaAPIError';
  }
}

export class FujitaAPI {
  constructor(
    readonly settings: ServerConnection.ISettings,
    private readonly _trans: Trans = englishTrans()
  ) {}

  async listProcesses(): Promise<IStatus[]> {
    try {
      const body = await this._request<{ processes: IStatus[] }>('processes');
      return body.processes;
    } catch (error) {
      if (error instanceof FujitaAPIError && error.status === 404) {
        throw new FujitaAPIError(
          this._trans.__(
            'The Django supervisor is not answering (404): is the jupyter_fujita server extension enabled?'
          ),
          404
        );
      }
      throw error;
    }
  }

  /** Start, stop or restart: `POST processes/{name}/{action}`. */
  runLifecycleAction(name: string, action: LifecycleAction): Promise<IStatus> {
    return this._request<IStatus>(processPath(name, action), { method: 'POST' });
  }

  /** Start, stop or restart every process: `POST processes/all/{action}`. */
  async runAll(action: LifecycleAction): Promise<IStatus[]> {
    const body = await this._request<{ processes: IStatus[] }>(processPath('all', action), {
      method: 'POST'
    });
    return body.processes;
  }

  /** Run a hint's action: `POST processes/{name}/actions/{action}`. */
  runHintAction(name: string, action: string): Promise<IStatus> {
    return this._request<IStatus>(processPath(name, 'actions', encodeURIComponent(action)), {
      method: 'POST'
    });
  }

  /** Write `text` to the process's stdin: `POST processes/{name}/stdin`. */
  writeStdin(name: string, text: string): Promise<IStatus> {
    return this._request<IStatus>(processPath(name, 'stdin'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ text })
    });
  }

  /** The lines after `since`, the first `limit` of them (read from disk where need be). */
  readLog(name: string, since: number, limit: number): Promise<ILogPage> {
    const query = new URLSearchParams({ since: String(since), limit: String(limit) });
    return this._request<ILogPage>(`${processPath(name, 'log')}?${query.toString()}`);
  }

  /** The runs still in the log, oldest first. */
  async listRuns(name: string): Promise<IRun[]> {
    const body = await this._request<{ runs: IRun[] }>(processPath(name, 'runs'));
    return body.runs;
  }

  async clearLog(name: string): Promise<void> {
    await this._request(processPath(name, 'log'), { method: 'DELETE' });
  }

  /** Open a WebSocket on `path`, authenticated the way JupyterLab's own services do. */
  openSocket(path: string, query: Record<string, string> = {}): WebSocket {
    const { settings } = this;
    const params = new URLSearchParams(query);
    if (settings.appendToken && settings.token !== '') {
      params.set('token', settings.token);
    }
    const search = params.toString();
    const url = URLExt.join(settings.wsUrl, API_PATH, path) + (search ? `?${search}` : '');
    return new settings.WebSocket(url);
  }

  private async _request<T>(path: string, init: RequestInit = {}): Promise<T> {
    const url = URLExt.join(this.settings.baseUrl, API_PATH, path);
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, init, this.settings);
    } catch {
      throw new FujitaAPIError(this._trans.__('Cannot reach the Jupyter server; retrying…'), 0);
    }
    const text = await response.text();
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON: a proxy's or the server's HTML error page.
    }
    if (!response.ok) {
      const message = (body as { message?: unknown } | null)?.message;
      throw new FujitaAPIError(
        typeof message === 'string' && message
          ? message
          : `${response.status} ${response.statusText}`.trim(),
        response.status
      );
    }
    return body as T;
  }
}

/** `processes/{name}/{rest}` with the name escaped. */
export function processPath(name: string, ...rest: string[]): string {
  return ['processes', encodeURIComponent(name), ...rest].join('/');
}
