"""Running the proof tasks of `prove` in parallel (at most `jobs` SymbiYosys runs, each one solver process):
a top's protocol task in context waits for its block inductions and leaves out the streams they proved."""

from __future__ import annotations

import dataclasses
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait


@dataclasses.dataclass
class Outcome:
    """A finished task: its verdict and the report line."""
    task: object  # cli.Task
    verdict: object  # sby.Verdict
    line: str


def _context(task, done: list[Outcome]):
    """The top's protocol task in context without the output streams of the blocks proven by induction (None if
    nothing is left to check in context: every block proven and no wrapper)."""
    ends = [o for o in done if o.task.top == task.top and o.task.block]
    proven = tuple(o.task.block for o in ends if o.verdict.status == "PASS")
    if ends and len(proven) == len(ends) and task.wrapper is None:
        return None
    return dataclasses.replace(task, proven=proven)


def run_all(tasks: list, run, report, jobs: int, progress) -> list[Outcome]:
    """Run `tasks` with `run(task) -> verdict` on `jobs` threads; `report(task, verdict) -> line` is printed
    through `progress` (a latte_rtl.progress.Progress) as each ends. Returns the outcomes in task order."""
    held = {t.top: t for t in tasks if t.name == "protocol" and not t.block
            and any(b.top == t.top and b.block for b in tasks)}
    blocks_left = {top: sum(1 for b in tasks if b.top == top and b.block) for top in held}
    queue = [t for t in tasks if t not in held.values()]
    done: list[Outcome] = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        running = {pool.submit(run, t): t for t in queue}
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                task = running.pop(future)
                verdict = future.result()
                done.append(Outcome(task, verdict, report(task, verdict)))
                progress.print(done[-1].line)
                progress.advance(f"{task.top} {task.label}")
                if task.block and task.top in blocks_left:
                    blocks_left[task.top] -= 1
                    if not blocks_left[task.top]:
                        context = _context(held[task.top], done)
                        if context is None:
                            progress.advance("", 1)
                        else:
                            running[pool.submit(run, context)] = context
    order = {t: i for i, t in enumerate(tasks)}
    return sorted(done, key=lambda o: order.get(dataclasses.replace(o.task, proven=()), len(order)))


def json_report(outcomes: list[Outcome], seconds: float) -> dict:
    """What `prove --json` writes: one entry per task (status, mode, depth, unbounded, seconds, failures)."""
    return {"seconds": round(seconds, 1),
            "all_hold": all(o.verdict.status == "PASS" or o.task.block for o in outcomes),
            "tasks": [{"top": o.task.top, "proof": o.task.name, "block": o.task.block, "mode": o.task.mode,
                       "depth": o.task.depth, "status": o.verdict.status,
                       "unbounded": o.task.mode == "prove" and o.verdict.status == "PASS",
                       "seconds": round(o.verdict.seconds, 1), "scope": o.task.scope,
                       "proven_blocks": len(o.task.proven),
                       "failed": [{"property": p, "cycle": c} for p, c in o.verdict.failed]}
                      for o in outcomes]}
