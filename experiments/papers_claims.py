"""Reproduce, on the simulator, the claims of the papers rlrm builds on.

Run: ``python experiments/papers_claims.py`` after ``experiments/shipped_policy.py`` (it reads
``experiments/results/shipped-<board>.json`` for claims 1, 2 and 4 and enumerates operating
points for claim 3). Writes ``experiments/results/papers-claims.md``.

1. Joint subnetwork + DVFS control vs the Linux governors (performance, schedutil) on the
   Jetson Xavier NX: energy saving at similar latency (Xun et al. 2022: 16.5 %).
2. Two concurrent models vs schedutil (Xun, thesis: 89 % less energy, 23 % lower latency).
3. Odroid XU3 operating points: the best under 100 mJ / 400 ms and under 200 mJ / 200 ms
   (the seeds' poster, points A and B).
4. The second-application scenario: the learned policy vs Dynamic-OFA's reactive manager.
"""

from __future__ import annotations

import json

from rlrm.env import DynamicDNNEnv
from rlrm.paths import PROJECT_ROOT
from rlrm.sim.simulator import OperatingPoint

RESULTS = PROJECT_ROOT / "experiments" / "results"


def load(board: str) -> dict:
    return json.loads((RESULTS / f"shipped-{board}.json").read_text())


def pct(new: float, old: float) -> str:
    return f"{(1 - new / old) * 100:.1f} %"


def claim1(lines: list[str]) -> None:
    r = load("jetson-xavier-nx")
    lines += ["## 1. Joint subnetwork + DVFS vs performance and schedutil (Jetson Xavier NX)", "",
              "| scenario | ppo E/inf mJ | ppo latency ms | performance E/inf | its latency | saving | schedutil E/inf | "
              "its latency | saving |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    savings = []
    for s, rows in r.items():
        p, perf, su = rows["ppo"], rows["performance"], rows["schedutil"]
        savings.append(1 - p["energy_per_inference_mj"] / perf["energy_per_inference_mj"])
        lines.append(f"| {s} | {p['energy_per_inference_mj']:.0f} | {p['latency_mean_ms']:.1f} | "
                     f"{perf['energy_per_inference_mj']:.0f} | {perf['latency_mean_ms']:.1f} | "
                     f"{pct(p['energy_per_inference_mj'], perf['energy_per_inference_mj'])} | "
                     f"{su['energy_per_inference_mj']:.0f} | {su['latency_mean_ms']:.1f} | "
                     f"{pct(p['energy_per_inference_mj'], su['energy_per_inference_mj'])} |")
    steady = r["steady"]
    lines += ["", f"Papers: 16.5 %. Here {min(savings) * 100:.1f} to {max(savings) * 100:.1f} % (steady: "
              f"{pct(steady['ppo']['energy_per_inference_mj'], steady['performance']['energy_per_inference_mj'])}). "
              "Matches in direction, larger in size. Why: the governors here run the largest subnetwork "
              "(79.0 % top-1) back to back, so the GPU is always busy and every load-based governor sits at "
              "the top frequency; the policy also trades about 2 points of top-1 (it meets the deadline, "
              "which the governors often miss: their latency is not 'similar'), and the simulated power "
              "model's voltage table for the Xavier is assumed, which sets how much DVFS saves.", ""]


def claim2(lines: list[str]) -> None:
    lines += ["## 2. Two concurrent models vs schedutil", "",
              "| board | ppo-2apps E/inf mJ | latency ms | schedutil E/inf | latency ms | energy saving | latency reduction |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for board in ("jetson-xavier-nx", "odroid-xu3"):
        rows = load(board)["two-models"]
        p, su = rows["ppo"], rows["schedutil"]
        lines.append(f"| {board} | {p['energy_per_inference_mj']:.0f} | {p['latency_mean_ms']:.1f} | "
                     f"{su['energy_per_inference_mj']:.0f} | {su['latency_mean_ms']:.1f} | "
                     f"{pct(p['energy_per_inference_mj'], su['energy_per_inference_mj'])} | "
                     f"{pct(p['latency_mean_ms'], su['latency_mean_ms'])} |")
    lines += ["", "Thesis: 89 % less energy and 23 % lower latency. Here the direction matches (less energy and lower "
              "latency) but the energy saving is far smaller. The thesis's baseline set-up is not in the "
              "references, so the gap cannot be pinned down; here schedutil's baseline already runs both models on "
              "the GPU and only its frequency is governed, so only subnetwork choice and DVFS remain to be gained.",
              ""]


def claim3(lines: list[str]) -> list:
    env = DynamicDNNEnv(platform="odroid-xu3", scenario="steady")
    sim = env.sim
    sim.perturb(background_scale=0.0)
    sim.reset(seed=0)
    points = []
    for subnet in range(env.n_subnets):
        for option, (unit, cores) in enumerate(sim.options):
            for fi, f in enumerate(sim.platform.units[unit].freqs_khz):
                r = sim.preview([OperatingPoint(subnet, option, fi)])
                app = r["apps"][0]
                points.append((r["energy_per_inference_mj"], app["latency_median_ms"], app["accuracy"], subnet,
                               unit, cores, f))
    lines += ["## 3. Odroid XU3 operating points (no background load)", ""]
    for e_max, l_max, label in ((100.0, 400.0, "A: under 100 mJ and 400 ms"), (200.0, 200.0, "B: under 200 mJ and 200 ms")):
        ok = [p for p in points if p[0] <= e_max and p[1] <= l_max]
        if ok:
            best = max(ok, key=lambda p: (p[2], -p[0]))
            lines.append(f"- {label}: subnet {best[3]} on {best[4]} x{best[5]} at {best[6]} kHz, "
                         f"{best[0]:.0f} mJ, {best[1]:.0f} ms, top-1 {best[2]:.2f} %")
        else:
            cheapest = min(points, key=lambda p: p[0])
            fastest = min(points, key=lambda p: p[1])
            lines.append(f"- {label}: no operating point qualifies. Cheapest: subnet {cheapest[3]} on {cheapest[4]} "
                         f"x{cheapest[5]} at {cheapest[6]} kHz, {cheapest[0]:.0f} mJ / {cheapest[1]:.0f} ms; fastest: "
                         f"subnet {fastest[3]} on {fastest[4]} x{fastest[5]} at {fastest[6]} kHz, {fastest[0]:.0f} mJ / "
                         f"{fastest[1]:.0f} ms.")
    lines += ["", f"{len(points)} operating points enumerated. The poster's points A and B come from a much smaller "
              "network (group-convolution pruned, MLCAD 2019) than the ImageNet OFA MobileNetV3 subnetworks here "
              "(235-731 MMAC), and the XU3 trace is an estimate; so these budgets are out of reach here and the "
              "claim does not carry over. What does carry over is the poster's observation on power, which the "
              "simulator reproduces (tests/test_sim_physics.py: one busy CPU core's power does not depend on the "
              "subnetwork, the GPU's does).", ""]
    return points


def claim4(lines: list[str]) -> None:
    lines += ["## 4. Second application: learned policy vs Dynamic-OFA's reactive manager", "",
              "| board | policy | E/inf mJ | deadline-miss rate | top-1 % | reward |", "| --- | --- | --- | --- | --- | --- |"]
    for board in ("jetson-xavier-nx", "odroid-xu3"):
        rows = load(board)["second-app"]
        for name in ("ppo", "performance+dofa", "schedutil+dofa", "oracle"):
            p = rows[name]
            lines.append(f"| {board} | {name} | {p['energy_per_inference_mj']:.0f} | {p['deadline_miss_rate']:.4f} | "
                         f"{p['accuracy_mean']:.2f} | {p['reward_mean']:.3f} |")
    x = load("jetson-xavier-nx")["second-app"]
    lines += ["", f"On the Xavier NX the learned policy misses {x['ppo']['deadline_miss_rate'] * 100:.2f} % of deadlines "
              f"against {x['performance+dofa']['deadline_miss_rate'] * 100:.2f} % for Dynamic-OFA's manager with the "
              f"performance governor, at slightly higher accuracy and less energy, within 5 % of the oracle's reward. "
              "By its rule the reactive manager only steps down after the mean of 20 inferences has exceeded the "
              "deadline, and steps back up only when accuracy falls below the floor, so it cannot return to a "
              "larger subnetwork when the second app stops. On the Odroid XU3 no policy meets this scenario (the "
              "second model saturates the Mali GPU).", ""]


def figures(points: list) -> list[str]:
    """PNG figures next to the Markdown: claims 1 and 4 (energy and misses per policy), claim 3
    (every Odroid operating point against the poster's budgets)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    r = load("jetson-xavier-nx")
    scen = list(r)
    fig, ax = plt.subplots(1, 2, figsize=(11, 3.8))
    width = 0.27
    for k, name in enumerate(("ppo", "performance", "schedutil")):
        xs = [i + (k - 1) * width for i in range(len(scen))]
        ax[0].bar(xs, [r[s][name]["energy_per_inference_mj"] for s in scen], width, label=name)
        ax[1].bar(xs, [r[s][name]["deadline_miss_rate"] for s in scen], width, label=name)
    for a, title in zip(ax, ("energy per inference (mJ)", "deadline-miss rate")):
        a.set_xticks(range(len(scen)))
        a.set_xticklabels(scen, rotation=30, ha="right", fontsize=8)
        a.set_title(title)
    ax[0].legend(fontsize=8)
    fig.suptitle("Claim 1 (Jetson Xavier NX, simulated): joint subnetwork + DVFS vs governors")
    fig.tight_layout()
    fig.savefig(RESULTS / "claim1-energy-vs-governors.png", dpi=110)
    out.append("claim1-energy-vs-governors.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    e = [p[0] for p in points]
    lat = [p[1] for p in points]
    ax.scatter(lat, e, s=6, c=[p[2] for p in points], cmap="viridis")
    for e_max, l_max, label in ((100, 400, "A"), (200, 200, "B")):
        ax.add_patch(plt.Rectangle((0, 0), l_max, e_max, fill=False, ls="--", color="red"))
        ax.annotate(label, (l_max, e_max), color="red")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("energy per inference (mJ)")
    ax.set_title("Claim 3: Odroid XU3 operating points (colour: top-1) vs the poster's budgets", fontsize=9)
    fig.tight_layout()
    fig.savefig(RESULTS / "claim3-odroid-operating-points.png", dpi=110)
    out.append("claim3-odroid-operating-points.png")
    plt.close(fig)

    rows = r["second-app"]
    names = ["ppo", "performance+dofa", "schedutil+dofa", "performance", "oracle"]
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.4))
    ax[0].bar(names, [rows[n]["energy_per_inference_mj"] for n in names])
    ax[1].bar(names, [rows[n]["deadline_miss_rate"] for n in names])
    for a, title in zip(ax, ("energy per inference (mJ)", "deadline-miss rate")):
        a.set_title(title)
        a.tick_params(axis="x", rotation=30, labelsize=8)
    fig.suptitle("Claim 4 (Xavier NX, second-app): learned policy vs Dynamic-OFA's manager")
    fig.tight_layout()
    fig.savefig(RESULTS / "claim4-second-app.png", dpi=110)
    out.append("claim4-second-app.png")
    plt.close(fig)
    return out


def main() -> None:
    lines = ["# The papers' claims on the simulator", "", "`python experiments/papers_claims.py` reproduces this file "
             "from `experiments/results/shipped-*.json` (20 seeded episodes per scenario).", ""]
    claim1(lines)
    claim2(lines)
    points = claim3(lines)
    claim4(lines)
    lines += ["## Figures", ""] + [f"![{name}]({name})" for name in figures(points)]
    out = RESULTS / "papers-claims.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
