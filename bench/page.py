"""The page: the same flood in the sidebar and in a JupyterLab terminal, in Chromium.

A real `jupyter lab` with the installed labextension; Chromium (Debian's, through Playwright's
async API) shows the sidebar, with Django running under jupyter_fujita, and a JupyterLab terminal
(terminado) running the same project's runserver on another port. Each round the page itself
asks a view for a flood of N lines whose last one carries a fresh token (`fetch`, so that the
page's own clock says when the view returned), once for each side; in the page:

- time to the last line: from the view's response to the first animation frame at which the
  token's line is there (the sidebar: among the last lines of its log view, which follows the
  tail; the terminal: in xterm's buffer at the cursor, which it paints in that frame);
- the longest task (PerformanceObserver 'longtask') from the request to that frame;
- frames per second (requestAnimationFrame callbacks) over the same window.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

from .figures import Run, read_off, rounds
from .project import set_mode
from .servers import PYTHON, LabServer, free_port

CHROMIUM = "/usr/bin/chromium"
SIDEBAR_TAB = '.jp-SideBar .lm-TabBar-tab[data-id="jupyter-fujita-sidebar"]'

INSTALL = """() => {
  window.__fj = { tasks: [] };
  new PerformanceObserver(list => {
    for (const e of list.getEntries()) window.__fj.tasks.push([e.startTime, e.duration]);
  }).observe({ type: 'longtask' });
}"""

# One flood, measured in the page. `where`: 'sidebar' or 'terminal'.
FLOOD = """async ({ url, token, where }) => {
  const terminalWidget = window.__fj.terminal;
  const inSidebar = () => {
    let el = document.querySelector('#jupyter-fujita-sidebar .jp-fujita-log')?.lastElementChild;
    for (let k = 0; el && k < 5; k++, el = el.previousElementSibling) {
      if (el.textContent.includes(token)) return true;
    }
    return false;
  };
  const inTerminal = () => {
    const buffer = terminalWidget.content._term.buffer.active;
    const cursor = buffer.baseY + buffer.cursorY;
    for (let i = cursor; i >= Math.max(0, cursor - 5); i--) {
      const line = buffer.getLine(i);
      if (line && line.translateToString(true).includes(token)) return true;
    }
    return false;
  };
  const shown = where === 'sidebar' ? inSidebar : inTerminal;
  const frames = [];
  let seen = null;
  let running = true;
  const tick = () => {
    frames.push(performance.now());
    if (seen === null && shown()) seen = performance.now();
    if (running) requestAnimationFrame(tick);
  };
  window.__fj.tasks = [];
  requestAnimationFrame(tick);
  const sent = performance.now();
  await fetch(url, { mode: 'no-cors' });
  const returned = performance.now();
  while (seen === null && performance.now() - returned < 120000) {
    await new Promise(resolve => setTimeout(resolve, 20));
  }
  await new Promise(resolve => setTimeout(resolve, 200)); // the last long task is reported
  running = false;
  const end = seen ?? performance.now();
  const tasks = window.__fj.tasks.filter(([start, took]) => start + took > sent && start < end);
  const inside = frames.filter(t => t >= sent && t <= end);
  return {
    sent, returned, seen,
    longest: Math.max(0, ...tasks.map(task => task[1])),
    tasks: tasks.length,
    fps: inside.length / Math.max((end - sent) / 1000, 1e-3),
  };
}"""

# What the page gets with nothing to do: frames in one second, and the long tasks then.
IDLE = """async () => {
  window.__fj.tasks = [];
  let frames = 0;
  let running = true;
  const tick = () => { frames++; if (running) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  await new Promise(resolve => setTimeout(resolve, 1000));
  running = false;
  return { fps: frames, long_tasks: window.__fj.tasks.length };
}"""

OPEN_TERMINAL = """async (command) => {
  const app = window.jupyterapp;
  await app.restored;
  const widget = await app.commands.execute('terminal:create-new');
  window.__fj.terminal = widget;
  const deadline = performance.now() + 30000;
  while (performance.now() < deadline) {
    const buffer = widget.content._term?.buffer?.active;
    if (buffer && buffer.getLine(buffer.baseY + buffer.cursorY)?.translateToString(true).trim()) {
      break;
    }
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  widget.content.session.send({ type: 'stdin', content: [command + '\\r'] });
}"""


async def page_figures(bench: Any) -> None:
    from playwright.async_api import async_playwright

    from .steps import wait_port

    s = bench.sizes
    last_line = bench.figure("page_last_line")
    longest, fps = bench.figure("page_longest_task"), bench.figure("page_fps")
    lab = LabServer(bench._dir("lab"))
    bench.servers.append(lab)
    lab.start()
    await lab.wait_ready()
    set_mode(lab.project, "django")
    status = await lab.start_child(wait=60)
    if status["state"] != "running":
        raise RuntimeError(f"Django did not start under jupyter_fujita in lab: {status}")
    terminal_port = free_port()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--disable-background-networking", "--disable-component-update"],
        )
        try:
            # The sidebar and the terminal each in a page of its own, as two browser tabs: a
            # terminal goes on working long after its flood has shown (no second without a long
            # task for 30 s and more), which in one page would count against the next sidebar
            # flood. Each page's main thread does only its own face's work.
            page = await lab_page(browser, lab, "lab")
            await page.locator(SIDEBAR_TAB).wait_for(timeout=60_000)
            sidebar = page.locator("#jupyter-fujita-sidebar")
            if not await sidebar.is_visible():
                await page.click(SIDEBAR_TAB)
            await sidebar.wait_for(state="visible", timeout=10_000)
            terminal_page = await lab_page(browser, lab, "lab/workspaces/fujita-bench-terminal")
            command = f"cd {lab.project} && exec {PYTHON} manage.py runserver "
            command += f"127.0.0.1:{terminal_port}"
            await terminal_page.evaluate(OPEN_TERMINAL, command)
            await wait_port(terminal_port, 60)
            await asyncio.sleep(1.0)  # both quiet
            idle = await page.evaluate(IDLE)

            async def flood(where: str, port: int) -> Run:
                token = f"fujita-bench-end-{secrets.token_hex(4)}"
                url = f"http://127.0.0.1:{port}/burst?n={s.page_lines}&last={token}"
                face = page if where == "sidebar" else terminal_page
                got = await face.evaluate(FLOOD, {"url": url, "token": token, "where": where})
                if got["seen"] is None:
                    raise RuntimeError(f"the {where} never showed the flood's last line")
                await asyncio.sleep(1.0)  # the page settles before the next flood
                return Run(
                    max(0.0, got["seen"] - got["returned"]),
                    extra={
                        "longest": got["longest"],
                        "fps": got["fps"],
                        "view_ms": got["returned"] - got["sent"],
                        "long_tasks": got["tasks"],
                    },
                )

            runs = await rounds(
                last_line,
                s.page_rounds,
                (lab, lambda: flood("sidebar", lab.django_port)),
                (lab, lambda: flood("terminal", terminal_port)),
            )
            if s.rounds >= 3 or bench.spy_dir is not None:  # a full run, or the page is written
                last_line.detail["profile_ours"] = await profiled(
                    page, lambda: flood("sidebar", lab.django_port)
                )
                last_line.detail["trace_ours"] = await traced(
                    browser, page, lambda: flood("sidebar", lab.django_port)
                )
        finally:
            await browser.close()
    read_off(longest, runs, "longest")
    read_off(fps, runs, "fps")
    fps.detail["idle_page"] = idle  # the same page, nothing flowing: what this machine gives
    for fig in (last_line, longest, fps):
        fig.detail["view_ms"] = {
            "ours": [a.extra["view_ms"] for a, _ in runs],
            "peer": [b.extra["view_ms"] for _, b in runs],
        }
        fig.detail["long_tasks"] = {
            "ours": [a.extra["long_tasks"] for a, _ in runs],
            "peer": [b.extra["long_tasks"] for _, b in runs],
        }
    await lab.stop_child()


async def lab_page(browser: Any, lab: LabServer, path: str) -> Any:
    """A page of JupyterLab at `path` (a workspace of its own: its layout is its own), ready,
    with the long-task observer installed."""
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    await page.goto(f"http://127.0.0.1:{lab.port}/{path}?token={lab.token}")
    await page.wait_for_function("window.jupyterapp !== undefined", timeout=60_000)
    await page.evaluate(INSTALL)
    return page


async def profiled(page: Any, run: Any, top: int = 15) -> dict[str, Any]:
    """One more flood with Chromium's sampling profiler on (DevTools protocol): the functions
    the page spent its time in, by self time, as shares of all samples."""
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Profiler.enable")
    await cdp.send("Profiler.setSamplingInterval", {"interval": 1000})
    await cdp.send("Profiler.start")
    try:
        await run()
    finally:
        profile = (await cdp.send("Profiler.stop"))["profile"]
        await cdp.detach()
    by_id = {node["id"]: node for node in profile["nodes"]}
    counts: dict[str, int] = {}
    for sample in profile.get("samples", []):
        frame = by_id[sample]["callFrame"]
        name = frame["functionName"] or "(anonymous)"
        where = frame["url"].rsplit("/", 1)[-1].split("?", 1)[0]
        key = f"{name} ({where}:{frame['lineNumber'] + 1})" if where else name
        counts[key] = counts.get(key, 0) + 1
    total = sum(counts.values()) or 1
    ranked = sorted(counts.items(), key=lambda item: item[1], reverse=True)[:top]
    return {
        "tool": "Chromium's sampling profiler on the page (one more sidebar flood), self time",
        "samples": total,
        "top": [{"function": name, "share": count / total} for name, count in ranked],
    }


# What the page's main thread does, as Chromium's trace names it (devtools.timeline): running
# script, and the rendering steps a frame takes.
TRACED = {
    "FunctionCall": "script (functions called)",
    "EventDispatch": "script (events: WebSocket messages)",
    "FireAnimationFrame": "script (animation frames)",
    "UpdateLayoutTree": "style recalculation",
    "Layout": "layout",
    "PrePaint": "pre-paint",
    "Paint": "paint",
    "Layerize": "layerize",
    "MajorGC": "garbage collection (major)",
    "MinorGC": "garbage collection (minor)",
}


async def traced(browser: Any, page: Any, run: Any) -> dict[str, Any]:
    """One more flood with Chromium's tracing on: the time the page's main thread spent in
    each kind of work (events nest: a layout that script forced counts in both)."""
    await browser.start_tracing(
        page=page, categories=["devtools.timeline", "disabled-by-default-devtools.timeline"]
    )
    try:
        await run()
    finally:
        trace = json.loads(await browser.stop_tracing())
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    main = {
        (event["pid"], event["tid"])
        for event in events
        if event.get("name") == "thread_name" and event["args"].get("name") == "CrRendererMain"
    }
    spent: dict[str, float] = {}
    by_name: dict[str, float] = {}
    tasks = 0.0
    for event in events:
        if (event.get("pid"), event.get("tid")) not in main or event.get("ph") != "X":
            continue
        if event["name"] in ("RunTask", "ThreadControllerImpl::RunTask"):
            tasks += event.get("dur", 0) / 1000  # every task, the frames' included
            continue
        by_name[event["name"]] = by_name.get(event["name"], 0.0) + event.get("dur", 0) / 1000
        what = TRACED.get(event["name"])
        if what is not None:
            spent[what] = spent.get(what, 0.0) + event.get("dur", 0) / 1000
    return {
        "tool": "Chromium's trace of the page's main thread (one more sidebar flood), ms",
        "tasks_ms": round(tasks, 1),
        "ms": {what: round(ms, 1) for what, ms in sorted(spent.items(), key=lambda x: -x[1])},
        # every event the trace names, nested ones counted in their parents too
        "events_ms": {
            name: round(ms, 1) for name, ms in sorted(by_name.items(), key=lambda x: -x[1])[:15]
        },
    }
