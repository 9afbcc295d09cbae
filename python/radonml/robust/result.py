"""The result of :func:`radonml.robust.benchmark`: every cell, and the views people cite (each
aggregator's accuracy under its worst attack, per f; heat maps; tables; JSON)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from .._results import JSONMixin

__all__ = ["RobustResult"]


def _nanmean(values) -> float:
    v = np.asarray(values, dtype=float)
    return float(v.mean()) if v.size and np.isfinite(v).all() else float("nan")


@dataclass(repr=False)
class RobustResult(JSONMixin):
    """Every cell of a :func:`radonml.robust.benchmark` run, and the summaries.

    Attributes
    ----------
    cells : list of dict
        One per (setting, heterogeneity, seed, aggregator, f, attack); the keys are listed in
        :func:`radonml.robust.benchmark`.
    config : dict
        The grid: ``settings`` (each setting's parameters), ``aggregators``, ``attacks``,
        ``fractions``, ``heterogeneity``, ``seeds``, ``attack_params``, ``aware``.
    capture : list of dict
        The Radon capture measurement (:func:`radonml.robust.radon_capture` for each attack
        that sends identical vectors, on setting (a)'s base models), if made.
    wall_s, cpu_s : float
        Wall seconds of the run, and CPU seconds of every process that worked on it.

    See Also
    --------
    radonml.plot.plot_robust, radonml.plot.plot_worst_case : its figures.

    Examples
    --------
    >>> from radonml.robust import OneShot, benchmark
    >>> res = benchmark(OneShot("breast-cancer"), aggregators=["mean", "median"], attacks=["sign_flip"],
    ...                 fractions=[0.1], heterogeneity=["iid"], capture=False, progress=False)
    >>> res.blocks(), len(res.cells)
    ([('oneshot', 'iid')], 4)
    >>> [(w["aggregator"], w["f"], w["worst_attack"]) for w in res.worst_case()]
    [('mean', 3, 'sign_flip'), ('median', 3, 'sign_flip')]
    """

    cells: List[dict]
    config: dict
    capture: List[dict] = field(default_factory=list)
    wall_s: float = float("nan")
    cpu_s: float = float("nan")

    # ------------------------------------------------------------------ grouping

    def blocks(self) -> list:
        """The (setting, heterogeneity) pairs of the grid, in the order they ran."""
        return list(OrderedDict(((c["setting"], c["heterogeneity"]), None) for c in self.cells))

    @property
    def aggregators(self) -> list:
        return list(self.config.get("aggregators") or OrderedDict((c["aggregator"], None) for c in self.cells))

    def _select(self, setting, heterogeneity) -> List[dict]:
        cells = [c for c in self.cells if c["setting"] == setting and c["heterogeneity"] == heterogeneity]
        if not cells:
            raise ValueError(f"no cells for setting {setting!r} and heterogeneity {heterogeneity!r}; "
                             f"the grid has {self.blocks()}")
        return cells

    def _means(self, setting, heterogeneity) -> Dict[tuple, dict]:
        """(aggregator, f, attack) -> the seed-mean accuracy and what happened in the cells."""
        groups: Dict[tuple, list] = OrderedDict()
        for c in self._select(setting, heterogeneity):
            groups.setdefault((c["aggregator"], c["f"], c["attack"]), []).append(c)
        out = {}
        for key, cs in groups.items():
            out[key] = {
                "accuracy": _nanmean([c["accuracy"] for c in cs]),
                "fraction": cs[0]["fraction"],
                "n": cs[0]["n"],
                "fell_back": any(c["fell_back"] for c in cs),
                "captured": any(bool(c.get("captured")) for c in cs),
                "errors": [c["error"] for c in cs if c.get("error")],
            }
        return out

    # ------------------------------------------------------------------ summaries

    def summary(self) -> List[dict]:
        """Per (setting, heterogeneity, aggregator, f > 0): the clean accuracy (f = 0), the
        accuracy under the worst attack (the least seed-mean accuracy over the attacks; cells
        that failed are listed in ``errors`` and left out), that attack, every attack's
        accuracy, the attacks under which the rule fell back or its aggregate was a Byzantine
        model (``captured``)."""
        rows = []
        for setting, het in self.blocks():
            means = self._means(setting, het)
            fs = sorted({f for (_, f, _) in means if f > 0})
            for agg in self.aggregators:
                clean = means.get((agg, 0, "none"), {}).get("accuracy", float("nan"))
                for f in fs:
                    per = {a: v for (g, ff, a), v in means.items() if g == agg and ff == f}
                    if not per:
                        continue
                    scored = {a: v["accuracy"] for a, v in per.items() if np.isfinite(v["accuracy"])}
                    worst = min(scored, key=scored.get) if scored else None
                    first = next(iter(per.values()))
                    rows.append({
                        "setting": setting, "heterogeneity": het, "aggregator": agg, "f": f,
                        "fraction": first["fraction"], "n": first["n"], "clean": clean,
                        "worst": scored[worst] if worst else float("nan"), "worst_attack": worst,
                        "accuracies": {a: v["accuracy"] for a, v in per.items()},
                        "fell_back": [a for a, v in per.items() if v["fell_back"]],
                        "captured": [a for a, v in per.items() if v["captured"]],
                        "errors": {a: v["errors"] for a, v in per.items() if v["errors"]},
                    })
        return rows

    def worst_case(self, setting: Optional[str] = None, heterogeneity: Optional[str] = None) -> List[dict]:
        """:meth:`summary` rows, optionally of one setting and heterogeneity."""
        return [r for r in self.summary() if (setting is None or r["setting"] == setting)
                and (heterogeneity is None or r["heterogeneity"] == heterogeneity)]

    def heatmap(self, setting: str, heterogeneity: str) -> dict:
        """The aggregator x f matrix of worst-case accuracies of one block: ``aggregators``,
        ``f``, ``fractions``, ``n``, ``worst`` (A, F), ``attack`` (A, F) the worst attacks,
        ``fell_back`` (A, F) whether the rule fell back (could not run at this n and f) under
        the worst attack, ``captured`` (A, F) whether the worst attack's aggregate was a
        Byzantine model, ``clean`` (A,)."""
        self._select(setting, heterogeneity)  # an unknown block raises
        rows = self.worst_case(setting, heterogeneity)
        aggs = [a for a in self.aggregators if any(r["aggregator"] == a for r in rows)]
        fs = sorted({r["f"] for r in rows})
        shape = (len(aggs), len(fs))
        worst, attack = np.full(shape, np.nan), np.full(shape, None, dtype=object)
        fell, capt = np.zeros(shape, dtype=bool), np.zeros(shape, dtype=bool)
        clean = np.full(len(aggs), np.nan)
        frac, n = {}, None
        for r in rows:
            i, j = aggs.index(r["aggregator"]), fs.index(r["f"])
            worst[i, j], attack[i, j] = r["worst"], r["worst_attack"]
            fell[i, j] = r["worst_attack"] in r["fell_back"]
            capt[i, j] = r["worst_attack"] in r["captured"]
            clean[i] = r["clean"]
            frac[r["f"]], n = r["fraction"], r["n"]
        return {"setting": setting, "heterogeneity": heterogeneity, "aggregators": aggs, "f": fs,
                "fractions": [frac[f] for f in fs], "n": n, "worst": worst, "attack": attack, "fell_back": fell,
                "captured": capt, "clean": clean}

    def ranking(self, setting: str, heterogeneity: str) -> List[tuple]:
        """(aggregator, mean over f of the worst-case accuracy), best first."""
        hm = self.heatmap(setting, heterogeneity)
        scores = [(a, float(np.mean(hm["worst"][i]))) for i, a in enumerate(hm["aggregators"])]
        return sorted(scores, key=lambda t: (-np.nan_to_num(t[1], nan=-1.0), t[0]))

    def breakdown(self, setting: str, heterogeneity: str, tolerance: float = 0.05) -> Dict[str, Optional[int]]:
        """Per aggregator, the smallest tested f whose worst-case accuracy lies more than
        ``tolerance`` below the rule's clean accuracy (None: it held at every tested f)."""
        hm = self.heatmap(setting, heterogeneity)
        out = {}
        for i, a in enumerate(hm["aggregators"]):
            drop = hm["worst"][i] < hm["clean"][i] - tolerance
            out[a] = int(hm["f"][int(np.argmax(drop))]) if drop.any() else None
        return out

    # ------------------------------------------------------------------ text

    def _describe_block(self, setting, het) -> str:
        c = self._select(setting, het)[0]
        what = "models" if setting == "oneshot" else "learners"
        seeds = sorted({x["seed"] for x in self._select(setting, het)})
        return (f"{setting} · {c['dataset']} · {het} · n = {c['n']} {what}, d = {c['d']}"
                + (f" (x {c['k']} class rows)" if c.get("k", 1) > 1 else "")
                + f" · {len(seeds)} seed(s)")

    def table(self, markdown: bool = False) -> str:
        """The worst-case table of every block: one row per aggregator, the clean accuracy and,
        per f, the accuracy under the worst attack and its name; ``†``: under that attack the
        rule fell back (it cannot run at this n and f); ``*``: its aggregate under that attack
        was a Byzantine model (captured)."""
        out = []
        for setting, het in self.blocks():
            hm = self.heatmap(setting, het)
            brk = self.breakdown(setting, het)
            heads = [f"f={f} ({p:.0%})" for f, p in zip(hm["f"], hm["fractions"])]
            out.append(("### " if markdown else "") + self._describe_block(setting, het))
            if markdown:
                out.append("")
                out.append("| aggregator | clean | " + " | ".join(heads) + " | breaks at |")
                out.append("|---|---|" + "---|" * len(heads) + "---|")
            else:
                out.append(f"{'aggregator':<22} {'clean':>6}  " + "  ".join(f"{h:<20}" for h in heads) + "  breaks at")
                out.append("-" * (32 + 22 * len(heads) + 9))
            for i, a in enumerate(hm["aggregators"]):
                parts = []
                for j in range(len(hm["f"])):
                    w, atk = hm["worst"][i, j], hm["attack"][i, j]
                    mark = ("†" if hm["fell_back"][i, j] else "") + ("*" if hm["captured"][i, j] else "")
                    parts.append("n/a" if atk is None else f"{w:.3f} {atk}{mark}")
                b = brk[a]
                bs = "-" if b is None else f"f={b}"
                if markdown:
                    out.append(f"| {a} | {hm['clean'][i]:.3f} | " + " | ".join(parts) + f" | {bs} |")
                else:
                    out.append(f"{a:<22} {hm['clean'][i]:>6.3f}  " + "  ".join(f"{p:<20}" for p in parts) + f"  {bs}")
            out.append("")
        out.append("worst: the least accuracy over the attacks (mean over seeds) and that attack; † the rule fell back "
                   "(it cannot run at this n and f); * the aggregate was a Byzantine model; breaks at: the first f "
                   "whose worst case is more than 0.05 below clean")
        return "\n".join(out)

    def attack_table(self, setting: str, heterogeneity: str, f: int, markdown: bool = False) -> str:
        """Accuracy of every aggregator under every attack at one f (mean over seeds)."""
        means = self._means(setting, heterogeneity)
        attacks = list(OrderedDict((a, None) for (_, ff, a) in means if ff == f))
        if not attacks:
            raise ValueError(f"no cells with f = {f} in {setting!r} / {heterogeneity!r}")
        lines = []
        if markdown:
            lines.append("| aggregator | " + " | ".join(attacks) + " |")
            lines.append("|---|" + "---|" * len(attacks))
        else:
            lines.append(f"{'aggregator':<22}" + "".join(f"{a[:14]:>15}" for a in attacks))
        for agg in self.aggregators:
            vals = []
            for a in attacks:
                v = means.get((agg, f, a))
                if v is None:
                    vals.append("")
                    continue
                mark = ("†" if v["fell_back"] else "") + ("*" if v["captured"] else "")
                vals.append(f"{v['accuracy']:.3f}{mark}")
            if markdown:
                lines.append(f"| {agg} | " + " | ".join(vals) + " |")
            else:
                lines.append(f"{agg:<22}" + "".join(f"{v:>15}" for v in vals))
        return "\n".join(lines)

    def __repr__(self) -> str:
        blocks = ", ".join(f"{s}/{h}" for s, h in self.blocks())
        return (f"RobustResult({len(self.cells)} cells; {blocks}; {len(self.aggregators)} aggregators x "
                f"{len(self.config.get('attacks', []))} attacks x f in {self.config.get('fractions')}; "
                f"wall {self.wall_s:.0f} s, CPU {self.cpu_s:.0f} s)")
