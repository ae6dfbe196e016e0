"""The report's timeline chart: every feed on the shared clock, as vector graphics (SVG).

Coverage bars, mutes coloured by kind (the pre-event buffer hatched and apart from counted
mutes), incident shots as ticks and annotations as marks. Drawn with matplotlib's SVG backend,
with a fixed hash salt and no date, so the same case gives the same bytes; labels are set with
``parse_math=False`` so a ``$`` in a feed label is text, never mathtext.
"""
from __future__ import annotations

import io

KIND_COLORS = {
    "digital-silence": "#d83232", "near-silence": "#e6821e", "packet-gap": "#a03cc8",
    "audio-ends-early": "#3ca0c8", "late-audio-start": "#3c78dc", "no-audio-track": "#7a7a7a",
    "undecodable": "#505050", "truncated": "#303030",
}


def timeline_svg(report: dict, *, width_in: float = 10.5, row_in: float = 0.42) -> bytes:
    """The chart of an ``evidence-audit.report/1`` document, as SVG bytes."""
    import matplotlib

    matplotlib.use("svg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    feeds = report["feeds"]
    n = max(1, len(feeds))
    fig = Figure(figsize=(width_in, 0.9 + row_in * (n + 1)))
    ax = fig.add_subplot(1, 1, 1)
    ys = {f["id"]: n - i for i, f in enumerate(feeds)}
    for f in feeds:
        y = ys[f["id"]]
        ax.barh(y, f["end_shared_s"] - f["start_shared_s"], left=f["start_shared_s"], height=0.55,
                color="#d9e8d9", edgecolor="#8aa88a", linewidth=0.5)
    used = set()
    for m in report["mutes"]:
        y = ys.get(m["feed_id"])
        if y is None:
            continue
        hatch = "////" if m["class"] == "pre-event buffer" else None
        ax.barh(y, m["end_shared_s"] - m["start_shared_s"], left=m["start_shared_s"], height=0.55,
                color=KIND_COLORS.get(m["kind"], "#c85050"), alpha=0.85, hatch=hatch, linewidth=0)
        used.add((m["kind"], m["class"] == "pre-event buffer"))
    for s in report["shots"]["shots"]:
        color = "#c00000" if s["confident"] else "#e09090"
        ax.axvline(s["time_shared_s"], color=color, linewidth=0.6 if s["confident"] else 0.4,
                   linestyle="-" if s["confident"] else ":", zorder=3)
    for a in report["annotations"]:
        ax.plot([a["start_shared_s"]], [n + 0.75], marker="v", color="#2060c0", markersize=4, zorder=4)
    ax.set_yticks([ys[f["id"]] for f in feeds])
    ax.set_yticklabels([f["label"] for f in feeds], parse_math=False, fontsize=7)
    ax.set_ylim(0.4, n + 1.1)
    ax.set_xlabel("shared clock (s, the reference feed's media time)", fontsize=7)
    ax.tick_params(axis="x", labelsize=7)
    ax.grid(axis="x", color="#dddddd", linewidth=0.4)
    handles = [Patch(color="#d9e8d9", label="recording")]
    for kind, buf in sorted(used):
        handles.append(Patch(facecolor=KIND_COLORS.get(kind, "#c85050"), hatch="////" if buf else None,
                             label=("pre-event buffer (not a mute)" if buf else kind)))
    handles.append(Patch(color="#c00000", label="shot (confident)"))
    leg = ax.legend(handles=handles, fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=6,
                    frameon=False)
    for t in leg.get_texts():
        t.set_parse_math(False)
    fig.tight_layout()
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "evidence-audit", "svg.fonttype": "path"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return buf.getvalue()
