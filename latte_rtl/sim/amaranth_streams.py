"""Stream helpers for `amaranth.sim` testbenches (no Verilog build), after Glasgow's
`stream_put` / `stream_get`. `pauses` is an iterator of booleans: True = stay idle this cycle."""

from __future__ import annotations


async def stream_put(ctx, stream, payload, pauses=None) -> None:
    """Offer one beat (waiting `next(pauses)` idle cycles first); return once it was taken."""
    while pauses is not None and next(pauses):
        await ctx.tick()
    ctx.set(stream.valid, 1)
    ctx.set(stream.payload, payload)
    await ctx.tick().until(stream.ready)
    ctx.set(stream.valid, 0)


async def stream_get(ctx, stream, pauses=None):
    """Take one beat (with ready low on paused cycles); return its payload."""
    while True:
        ready = not (pauses is not None and next(pauses))
        ctx.set(stream.ready, int(ready))
        _, _, valid, payload = await ctx.tick().sample(stream.valid, stream.payload)
        if ready and valid:
            ctx.set(stream.ready, 0)
            return payload


async def stream_until(ctx, beats, record, pauses=None) -> tuple[list, object]:
    """Take beats of `beats` (ready low on paused cycles) until `record` shows one (always ready);
    return (the taken beats' payloads, the record's payload)."""
    taken = []
    ctx.set(record.ready, 1)
    while True:
        ready = not (pauses is not None and next(pauses))
        ctx.set(beats.ready, int(ready))
        _, _, valid, payload, done, summary = await ctx.tick().sample(beats.valid, beats.payload, record.valid,
                                                                      record.payload)
        if ready and valid:
            taken.append(payload)
        if done:
            return taken, summary
