"""Governors sampled inside a control period, nvhost_podgov, G@L and G+dofa.

Every expected frequency is worked out by hand from the kernel sources (the arithmetic is
in the comments); tables as in test_governors.py.
"""

from __future__ import annotations

import pytest

from rlrm import governors as g
from rlrm.agents.baselines import DofaManager, GovernorPolicy
from rlrm.agents.registry import make_policy
from rlrm.env import DynamicDNNEnv
from rlrm.errors import InputError
from rlrm.platform.profile import load_platform, platform_to_dict
from tests.test_governors import XAVIER_CPU, XAVIER_GPU, XU3_A15


# --------------------------------------------------------------------------- sub-sampling


def test_samples_per_period_is_the_governors_own_rate() -> None:
    assert g.samples_per_period(g.make("simple_ondemand", XAVIER_GPU), 1.0) == 20  # 50 ms polling
    assert g.samples_per_period(g.make("nvhost_podgov", XAVIER_GPU), 1.0) == 40  # 25 ms polling
    assert g.samples_per_period(g.make("ondemand", XAVIER_CPU, sampling_rate=10000), 1.0) == 100
    assert g.samples_per_period(g.make("schedutil", XAVIER_CPU, rate_limit_us=10000), 0.5) == 50
    assert g.samples_per_period(g.make("ondemand", XAVIER_CPU), 1.0) == g.MAX_SAMPLES_PER_PERIOD  # 8 ms: 125, capped
    assert g.samples_per_period(g.make("performance", XAVIER_CPU), 1.0) == 1


def test_subinterval_load_is_work_conserving_and_saturation_stays_busy() -> None:
    so = g.make("simple_ondemand", XAVIER_GPU)
    assert g.subinterval_load(so, 0.3, 1109250, 1109250) == pytest.approx(0.3)
    assert g.subinterval_load(so, 0.3, 1109250, 408000) == pytest.approx(0.3 * 1109250 / 408000)
    assert g.subinterval_load(so, 0.3, 114750, 1109250) == pytest.approx(0.3 * 114750 / 1109250)
    assert g.subinterval_load(so, 1.0, 114750, 1109250) == 1.0  # saturated: busy at any frequency
    su = g.make("schedutil", XAVIER_CPU)
    assert g.subinterval_load(su, 0.5, 1907200, 1267200) == pytest.approx(0.5)  # invariant: same work
    assert g.subinterval_load(su, 1.0, 115200, 192000) == pytest.approx(192000 / 1907200)  # busy at 192 MHz


def test_simple_ondemand_period_from_known_load() -> None:
    # u = 0.3 at 1109250: busy 15e6 of 50e6 ns, both >> 7 -> 117187 / 390625 (30 %: below 85 %)
    #   117187 * 1109250000 // 390625 = 332773580; * 100 // 88 = 378151795 Hz -> OPP 408000
    # at 408000: load 0.3 * 1109250 / 408000 = 0.815625 -> 40781250 ns >> 7 = 318603 (81.6 %: < 85 %)
    #   318603 * 408000000 // 390625 = 332774461; * 100 // 88 = 378152796 Hz -> 408000 again
    gov = g.make("simple_ondemand", XAVIER_GPU)
    assert g.run_period(gov, 0.3, 1109250, 3) == [408000, 408000, 408000]


def test_simple_ondemand_period_from_saturated_load_goes_to_max_at_once() -> None:
    # busy all the period at 114750: every 50 ms window is 100 % busy > 90 % -> max
    gov = g.make("simple_ondemand", XAVIER_GPU)
    assert g.run_period(gov, 1.0, 114750, 3) == [1109250] * 3


def test_schedutil_period_ramps_by_a_quarter_per_rate_limit() -> None:
    # saturated at f: invariant util = f / 1907200; v6.12: f_max * min(util + util/4, 1024) / 1024
    # 115200: util round(0.060403 * 1024) = 62 -> 77 -> 1907200 * 77 // 1024 = 143412 -> 192000
    # 192000: util 103 -> 128 -> 238400 -> 268800
    # 268800: util 144 -> 180 -> 335250 -> 345600
    # 345600: util 186 -> 232 -> 432100 -> 499200
    gov = g.make("schedutil", XAVIER_CPU, rate_limit_us=10000, period_s=0.01)
    assert g.run_period(gov, 1.0, 115200, 4) == [192000, 268800, 345600, 499200]


def test_schedutil_period_from_known_load_settles() -> None:
    # u = 0.5 at 1907200: util 512 -> 640 -> 1907200 * 640 // 1024 = 1192000 -> 1267200;
    # at 1267200 the invariant util is the same 512: cached raw freq, no change
    gov = g.make("schedutil", XAVIER_CPU, rate_limit_us=10000, period_s=0.01)
    assert g.run_period(gov, 0.5, 1907200, 2) == [1267200, 1267200]


def test_ondemand_period_from_known_load() -> None:
    # sampling_rate 8000 us, up_threshold 95
    # 2000000: load 50 -> 200000 + 50 * 1800000 // 100 = 1100000 (RELATION_C, exact)
    # 1100000: busy 0.5 * 2000000 / 1100000 = 0.909 -> 7273 of 8000 us -> 90 -> 1820000 -> C: 1800000
    # 1800000: 0.5556 -> 4444 us -> 55 -> 1190000 -> C: 1200000
    gov = g.make("ondemand", XU3_A15)
    assert g.run_period(gov, 0.5, 2000000, 3) == [1100000, 1800000, 1200000]


def test_conservative_period_from_saturated_load_steps_up() -> None:
    # freq_step 5 % of 1907200 = 95360; load 100 > 80 each sample:
    # requested 115200 + 95360 = 210560 -> H: 192000; 305920 -> 268800; 401280 -> 345600
    gov = g.make("conservative", XAVIER_CPU)
    assert g.run_period(gov, 1.0, 115200, 3) == [192000, 268800, 345600]


# --------------------------------------------------------------------------- nvhost_podgov


def test_nvhost_podgov_defaults_are_l4t_ones() -> None:
    gov = g.make("nvhost_podgov", XAVIER_GPU)
    assert gov.tunables == {"load_max": 900, "load_target": 700, "bias": 80, "smooth": 10, "damp": 7,
                            "block_window": 50000, "polling_ms": 25}
    assert gov.period_s == pytest.approx(0.025)
    assert g.NvhostPodgovGovernor.sampling_period_s() == pytest.approx(0.025)


def test_nvhost_podgov_too_busy_boosts_by_a_third_of_max_undamped() -> None:
    # 25 ms polls, busy = total = 25e6 ns; max_boost = (1109250000 / 3) / 1e6 = 369 MHz
    # poll 1 (t 25 ms): cycles_avg = 114750000 // 11 = 10431818; t - last_scale 25000 < 50000: keep
    # poll 2 (50 ms): cycles_avg = (104318180 + 114750000) // 11 = 19915289; rt_load 1000 > 900:
    #   res = 114 + 369 = 483, freq_avg = 483 // 11 = 43, damp 10: 483 MHz -> OPP 510000
    # poll 3 (75 ms): blocked (25 ms since the change)
    # poll 4 (100 ms): res = 510 + 369 = 879, freq_avg = (430 + 879) // 11 = 119, damp 10 -> 905250
    gov = g.make("nvhost_podgov", XAVIER_GPU)
    assert g.run_period(gov, 1.0, 114750, 4) == [114750, 510000, 510000, 905250]
    assert gov.cycles_avg == 104971312 and gov.freq_avg == 119


def test_nvhost_podgov_scales_down_with_damping() -> None:
    # constant 35 % busy from 1109250; busy 8750000 of 25e6 ns, rt_load 350 (<= load_max)
    # poll 1: norm_load 388237500, cycles_avg 35294318; blocked
    # poll 2: cycles_avg (352943180 + 388237500) // 11 = 67380061; busyness 1000*67380061 // 1109250000 = 60
    #   boost = (60 - 700) * (80 * 1109) / (100 * 700) = -56780800 / 70000 = -811 (C truncation)
    #   res = 1109 - 811 = 298; freq_avg = 298 / 11 = 27; res = (7*298 + 3*27) / 10 = 216 MHz -> 306000
    # poll 3: norm_load 107100000, cycles_avg (673800610 + 107100000) // 11 = 70990964; blocked
    # poll 4: cycles_avg (709909640 + 107100000) // 11 = 74273603; busyness 242
    #   boost = (242 - 700) * (80 * 306) / 70000 = -11211840 / 70000 = -160; res = 146
    #   freq_avg = (270 + 146) / 11 = 37; res = (7*146 + 3*37) / 10 = 113 MHz -> clamped to min 114750
    gov = g.make("nvhost_podgov", XAVIER_GPU)
    out, cur = [], 1109250
    for _ in range(4):
        cur = gov.next_frequency(0.35, cur)
        out.append(cur)
    assert out == [1109250, 306000, 306000, 114750]
    gov.reset()
    assert gov.next_frequency(0.35, 1109250) == 1109250 and gov.cycles_avg == 35294318


def test_nvhost_podgov_block_window_and_bad_tunables() -> None:
    gov = g.make("nvhost_podgov", XAVIER_GPU, block_window=0)
    assert gov.next_frequency(1.0, 114750) == 510000  # evaluated on the first poll: 114 + 369 = 483 MHz
    for key, value in (("damp", 11), ("load_target", 0), ("polling_ms", 0), ("smooth", -1)):
        with pytest.raises(InputError) as info:
            g.make("nvhost_podgov", XAVIER_GPU, **{key: value})
        assert info.value.source == "governor:nvhost_podgov" and info.value.field == key


# --------------------------------------------------------------------------- simulator's schedutil


def test_map_util_freq_is_schedutil() -> None:
    assert g.map_util_freq(XAVIER_CPU, 0.5) == 1267200  # 1907200 * 640 // 1024 = 1192000 -> 1267200
    assert g.map_util_freq(XAVIER_CPU, 0.0) == 115200
    assert g.map_util_freq(XAVIER_CPU, 1.0) == 1907200
    assert g.map_util_freq(XAVIER_CPU, 0.79) == 1907200  # 809 + 202 = 1011 -> 1882987 -> above 1881600
    gov = g.make("schedutil", XAVIER_CPU)
    assert gov.next_frequency(0.5, 115200) == g.map_util_freq(XAVIER_CPU, 0.5)


# --------------------------------------------------------------------------- board profile


def test_profiles_name_their_gpu_governor() -> None:
    jetson, odroid = load_platform("jetson-xavier-nx"), load_platform("odroid-xu3")
    assert jetson.units["gpu"].governor == "nvhost_podgov"
    assert odroid.units["gpu"].governor == "simple_ondemand"
    assert platform_to_dict(jetson)["units"]["gpu"]["governor"] == "nvhost_podgov"
    assert GovernorPolicy("schedutil").governor_for(jetson.units["gpu"]) == "nvhost_podgov"
    assert GovernorPolicy("ondemand").governor_for(odroid.units["gpu"]) == "simple_ondemand"
    assert GovernorPolicy("performance").governor_for(jetson.units["gpu"]) == "performance"
    assert GovernorPolicy("schedutil").governor_for(jetson.units["carmel"]) == "schedutil"


# --------------------------------------------------------------------------- G@L and +dofa


def test_pinned_level_runs_that_subnetwork_only() -> None:
    env = DynamicDNNEnv(scenario="steady", episode_steps=6)
    pol = make_policy("schedutil@0")
    assert pol.name == "schedutil@0"
    obs, info = env.reset(seed=0)
    pol.reset(env, seed=0)
    assert pol.next_frequency() == pol.unit.f_max_khz  # nothing measured yet: starts where the unit is
    subnets = []
    for _ in range(6):
        obs, _, _, _, info = env.step(pol.act(env, obs, info))
        pol.observe(info)
        subnets.append(info["subnet"])
    assert subnets == [0] * 6
    top = make_policy("ondemand@3")
    assert top.name == "ondemand@3" and top.level == 3


@pytest.mark.parametrize("name", ["schedutil@x", "schedutil@", "nope@1", "schedutil@-1"])
def test_bad_pinned_names_rejected(name: str) -> None:
    with pytest.raises(InputError) as info:
        make_policy(name)
    assert info.value.field == "policy"


def test_pinned_level_outside_library_rejected() -> None:
    env = DynamicDNNEnv(scenario="steady", episode_steps=2)
    env.reset(seed=0)
    with pytest.raises(InputError, match="outside 0.."):
        make_policy("schedutil@99").reset(env, seed=0)


def test_dofa_steps_down_over_the_deadline_and_up_with_headroom() -> None:
    m = DofaManager(6, window=20, headroom=0.2)  # up when the mean is under 0.8 * 60 = 48 ms
    assert m.update(70.0, 20, 79.0, 60.0, 0.0) == 4  # 70 > 60: down
    assert m.update(70.0, 20, 78.0, 60.0, 0.0) == 3  # down again
    assert m.update(40.0, 20, 77.0, 60.0, 0.0) == 4  # 40 < 48: headroom, up
    assert m.update(50.0, 20, 78.0, 60.0, 0.0) == 4  # 48 <= 50 <= 60: stay
    assert m.update(47.0, 10, 78.0, 60.0, 0.0) == 4  # window 50x20 + 47x10 (the oldest is kept: 10 < 20): 49 >= 48
    assert m.update(40.0, 20, 78.0, 60.0, 0.0) == 5  # the last 20 inferences are 40x20: 40 < 48: up
    assert m.update(30.0, 20, 79.0, 60.0, 0.0) == 5  # already the largest


def test_dofa_headroom_is_a_tunable() -> None:
    eager = DofaManager(6, headroom=0.0)
    eager.level = 2
    assert eager.update(59.0, 20, 76.0, 60.0, 0.0) == 3  # any mean under the deadline steps up
    for bad in (-0.1, 1.5, "x"):
        with pytest.raises(InputError):
            DofaManager(6, headroom=bad)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        GovernorPolicy("schedutil", dofa=True, window=0)
    with pytest.raises(InputError):
        GovernorPolicy("schedutil", dofa=True, level=1)
