"""Linux governors: each expected frequency is worked out by hand from the kernel's formulas.

Tables are the real ones:
  Jetson Xavier NX CPU: 115200 + 76800*k (k = 0..23, i.e. up to 1881600), then 1907200 kHz
  Odroid XU3 A15:       200000 .. 2000000 step 100000 kHz
  Xavier NX GPU:        114750 .. 1109250 kHz (15 OPPs)
"""

from __future__ import annotations

import subprocess
import sys
from typing import List, Sequence

import pytest

from rlrm import governors as g
from rlrm.errors import InputError

XAVIER_CPU = [115200 + 76800 * k for k in range(24)] + [1907200]
XU3_A15 = list(range(200000, 2000001, 100000))
XAVIER_GPU = [
    114750, 204000, 306000, 408000, 510000, 599250, 701250, 752250,
    803250, 854250, 905250, 956250, 1007250, 1058250, 1109250,
]  # fmt: skip


def run(gov: g.Governor, loads: Sequence[float], start_khz: int) -> List[int]:
    """Feed loads one period at a time, applying each returned frequency."""
    out, cur = [], start_khz
    for load in loads:
        cur = gov.next_frequency(load, cur)
        out.append(cur)
    return out


def test_tables_are_the_real_ones() -> None:
    assert len(XAVIER_CPU) == 25 and XAVIER_CPU[-2:] == [1881600, 1907200]
    assert len(XU3_A15) == 19 and len(XAVIER_GPU) == 15


def test_registry_and_make() -> None:
    assert g.available() == [
        "performance", "powersave", "userspace", "ondemand", "conservative", "schedutil", "simple_ondemand",
        "nvhost_podgov",
    ]  # fmt: skip
    for name in g.available():
        gov = g.make(name, XAVIER_CPU)
        assert isinstance(gov, g.GOVERNORS[name]) and gov.name == name


# --------------------------------------------------------------------------- table resolution


def test_frequency_table_relations() -> None:
    t = g.FrequencyTable(XAVIER_GPU)
    assert t.resolve(600000, g.RELATION_L) == 701250  # lowest >= 600000
    assert t.resolve(600000, g.RELATION_H) == 599250  # highest <= 600000
    assert t.resolve(600000, g.RELATION_C) == 599250  # 600000-599250=750 < 701250-600000
    assert t.resolve(650250, g.RELATION_C) == 599250  # tie 51000 == 51000: not '>', keep the lower
    assert t.resolve(650251, g.RELATION_C) == 701250  # 51001 > 50999
    assert t.resolve(1, g.RELATION_H) == 114750  # clamp_val(target, min, max) first
    assert t.resolve(10**9, g.RELATION_L) == 1109250
    assert t.resolve(408000, g.RELATION_L) == 408000  # exact hit


# --------------------------------------------------------------------------- static governors


def test_performance_and_powersave() -> None:
    assert run(g.make("performance", XAVIER_CPU), [0.0, 1.0], 499200) == [1907200, 1907200]
    assert run(g.make("powersave", XAVIER_CPU), [1.0, 0.0], 499200) == [115200, 115200]


def test_userspace_holds_setspeed() -> None:
    gov = g.make("userspace", XAVIER_CPU, setspeed_khz=1000000)
    # RELATION_L: (1000000-115200)/76800 = 11.5 -> k=12: 115200+921600 = 1036800
    assert run(gov, [0.0, 1.0, 0.5], 115200) == [1036800] * 3
    gov.set_speed(1)  # below min: clamped to 115200
    assert gov.next_frequency(1.0, 1036800) == 115200

    held = g.make("userspace", XAVIER_CPU)  # start: setspeed = policy->cur
    assert run(held, [1.0, 0.0], 499200) == [499200, 499200]
    held.set_speed(1907200)
    held.reset()  # back to "whatever the policy is at"
    assert held.next_frequency(0.3, 268800) == 268800


# --------------------------------------------------------------------------- ondemand


def test_ondemand_proportional_formula_xu3() -> None:
    gov = g.make("ondemand", XU3_A15)  # up_threshold 95 (micro-accounting), sampling_rate 8 ms
    # freq_next = 200000 + load * (2000000 - 200000) / 100, resolved with RELATION_C
    assert gov.next_frequency(0.50, 1100000) == 1100000  # 200000 + 50*18000 = 1100000, on the table
    assert gov.next_frequency(0.33, 1100000) == 800000  # 200000 + 33*18000 = 794000: 800000 is closer
    assert gov.next_frequency(0.25, 1100000) == 600000  # 650000: tie 600000/700000 -> the lower
    assert gov.next_frequency(0.95, 1100000) == 1900000  # 95 is not > 95: 1910000 -> 1900000
    assert gov.next_frequency(0.96, 1100000) == 2000000  # 96 > 95: policy->max
    assert gov.next_frequency(0.0, 2000000) == 200000  # 200000 + 0


def test_ondemand_proportional_formula_xavier() -> None:
    gov = g.make("ondemand", XAVIER_CPU)
    # 115200 + 50 * (1907200-115200) / 100 = 115200 + 896000 = 1011200
    # neighbours 960000 (k=11) and 1036800 (k=12): 51200 > 25600 -> 1036800
    assert gov.next_frequency(0.5, 115200) == 1036800
    # 115200 + 12*1792000/100 = 115200 + 215040 = 330240: 268800 (61440 away) vs 345600 (15360) -> 345600
    assert gov.next_frequency(0.12, 1036800) == 345600


def test_ondemand_up_threshold_default_without_micro_accounting() -> None:
    gov = g.make("ondemand", XU3_A15, micro_accounting=False)
    assert gov.up_threshold == 80  # DEF_FREQUENCY_UP_THRESHOLD
    assert gov.next_frequency(0.81, 1000000) == 2000000  # 81 > 80
    assert gov.next_frequency(0.80, 2000000) == 1600000  # 200000 + 80*18000 = 1640000 -> C -> 1600000


def test_ondemand_jump_to_max_and_hold_for_sampling_down_factor() -> None:
    gov = g.make("ondemand", XU3_A15, up_threshold=80, sampling_down_factor=3)
    out = run(gov, [0.9, 0.2, 0.2, 0.5, 0.0], 1100000)
    assert out == [
        2000000,  # 90 > 80 and cur 1100000 < max: go to max, rate_mult = 3
        2000000,  # next dbs work is 3 * sampling_rate later: held
        2000000,  # held
        # evaluated over the 3 periods: busy 1600+1600+4000 = 7200 us of 24000 -> 30 %
        # 200000 + 30*18000 = 740000: 700000 (40000 away) vs 800000 (60000) -> 700000; rate_mult = 1
        700000,
        200000,  # rate_mult 1: evaluated right away, 0 % -> min
    ]
    assert gov.rate_mult == 1


def test_ondemand_stays_at_max_while_busy() -> None:
    gov = g.make("ondemand", XU3_A15, up_threshold=80, sampling_down_factor=3)
    out = run(gov, [0.9] * 7 + [0.0], 1100000)
    # call 1 jumps (rate_mult 3); calls 2-3 held; call 4: 90 > 80 but cur == max, so
    # rate_mult stays 3 and dbs_freq_increase() returns early; calls 5-6 held; call 7 again;
    # call 8 is held too (it is inside call 7's window)
    assert out == [2000000] * 8
    assert gov.rate_mult == 3
    # 3 more periods at 0 %: window busy = 0 -> min
    assert run(gov, [0.0, 0.0], 2000000) == [2000000, 200000]


def test_ondemand_io_is_busy_and_ignore_nice() -> None:
    base = g.make("ondemand", XU3_A15, up_threshold=80)
    # idle = 8000 - 4000 = 4000 us (iowait is idle): 50 % -> 1100000
    assert base.next_frequency(0.5, 1000000, iowait=0.4) == 1100000
    io = g.make("ondemand", XU3_A15, up_threshold=80, io_is_busy=1)
    # idle = 4000 - 3200 iowait = 800 us: 100*(8000-800)/8000 = 90 > 80 -> max
    assert io.next_frequency(0.5, 1000000, iowait=0.4) == 2000000
    nice = g.make("ondemand", XU3_A15, up_threshold=80, ignore_nice_load=1)
    # idle = 4000 + 2400 nice = 6400 us: 20 % -> 200000 + 360000 = 560000 -> C -> 600000
    assert nice.next_frequency(0.5, 1000000, nice=0.3) == 600000


def test_ondemand_powersave_bias() -> None:
    gov = g.make("ondemand", XU3_A15, powersave_bias=100, sampling_rate=10000)
    # freq_next = 1100000 -> RELATION_L 1100000; freq_reduc = 1100000*100/1000 = 110000
    # freq_avg = 990000: freq_lo (H) = 900000, freq_hi (L) = 1000000
    # delay_hi = ((990000-900000)*10000 + 100000/2) / 100000 = 900050000/100000 = 9000 us
    assert gov.next_frequency(0.5, 1100000) == 1000000
    assert gov.sub_sample == (900000, 9000, 1000)
    # jump: powersave_bias_target(max, H): 2000000 - 200000 = 1800000 is on the table, no split
    assert gov.next_frequency(1.0, 1000000) == 1800000
    assert gov.sub_sample is None


def test_ondemand_powersave_bias_unsigned_overflow() -> None:
    gov = g.make("ondemand", XU3_A15, powersave_bias=100, sampling_rate=140000)
    # (990000-900000)*140000 = 12600000000 wraps in unsigned int: mod 2^32 = 4010065408
    # (4010065408 + 50000) / 100000 = 40101 us hi, 140000 - 40101 = 99899 us lo (not 126000/14000)
    assert gov.next_frequency(0.5, 1100000) == 1000000
    assert gov.sub_sample == (900000, 40101, 99899)


# --------------------------------------------------------------------------- conservative


def test_conservative_steps_up_and_down_xavier() -> None:
    gov = g.make("conservative", XAVIER_CPU)  # freq_step 5 % of 1907200 = 95360
    out = run(gov, [0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.1, 0.5], 115200)
    assert out == [
        192000,  # requested 115200+95360 = 210560 -> RELATION_H -> 192000
        268800,  # 305920 -> H -> 268800
        345600,  # 401280 -> H -> 345600
        345600,  # 10 < 20: 401280-95360 = 305920 -> RELATION_L -> 345600 (no change)
        268800,  # 210560 -> L -> 268800
        115200,  # 115200 -> L -> 115200
        115200,  # requested == min: nothing to do
        115200,  # 50 %: between the thresholds
    ]
    assert gov.requested_freq == 115200


def test_conservative_upper_bound() -> None:
    gov = g.make("conservative", XAVIER_CPU)
    # requested starts at policy->cur 1881600; +95360 = 1976960 > max -> 1907200
    assert run(gov, [1.0, 1.0], 1881600) == [1907200, 1907200]
    assert gov.requested_freq == 1907200


def test_conservative_requested_freq_below_min_falls_back_to_cur() -> None:
    gov = g.make("conservative", XU3_A15, freq_step=7)  # 7*2000000/100 = 140000
    out = run(gov, [0.1, 0.1, 0.9], 400000)
    # 1: 400000 > 140000 -> 260000 -> L -> 300000
    # 2: 260000 > 140000 -> 120000 (stored) -> L, clamped to min -> 200000
    # 3: 120000 < policy->min -> requested = policy->cur = 200000; +140000 = 340000 -> H -> 300000
    #    (stepping from the stale 120000 would give 260000 -> H -> 200000)
    assert out == [300000, 200000, 300000]


def test_conservative_sampling_down_factor() -> None:
    gov = g.make("conservative", XU3_A15, sampling_down_factor=2)  # step 100000
    out = run(gov, [0.1, 0.1, 0.1, 0.9, 0.1, 0.1], 1000000)
    # down only when ++down_skip reaches 2; going up resets down_skip
    assert out == [1000000, 900000, 900000, 1000000, 1000000, 900000]


def test_conservative_freq_step_zero_freezes() -> None:
    gov = g.make("conservative", XU3_A15, freq_step=0)
    assert run(gov, [1.0, 0.0], 700000) == [700000, 700000]


# --------------------------------------------------------------------------- schedutil


def test_schedutil_mapping_invariant() -> None:
    gov = g.make("schedutil", XAVIER_CPU, rate_limit_us=0, period_s=0.001)
    # util = round(load * 1024); v6.8+: util' = min(util + util/4, 1024); f = 1907200 * util' / 1024
    assert gov.next_frequency(0.5, 115200) == 1267200  # 512 -> 640 -> 1192000 -> L (1190400 < it) -> 1267200
    assert gov.raw_target_khz == 1192000
    assert gov.next_frequency(0.3, 1267200) == 729600  # 307 -> 383 -> 713337 -> L -> 729600 (k=8)
    assert gov.raw_target_khz == 713337
    assert gov.next_frequency(0.8, 729600) == 1907200  # 819 -> 1023 -> 1905337 -> L -> 1907200
    assert gov.raw_target_khz == 1905337
    assert gov.next_frequency(1.0, 1907200) == 1907200  # already there: no request, cur returned
    assert gov.next_frequency(0.0, 1907200) == 115200  # 0 -> clamped to min


def test_schedutil_mapping_before_v6_8() -> None:
    gov = g.make("schedutil", XAVIER_CPU, rate_limit_us=0, period_s=0.001, kernel=(5, 10))
    # f = (1907200 + 1907200/4) * util / 1024 = 2384000 * util / 1024
    assert gov.next_frequency(0.8, 115200) == 1907200  # 2384000*819/1024 = 1906734 -> L -> 1907200
    assert gov.raw_target_khz == 1906734
    assert gov.next_frequency(0.3, 1907200) == 729600  # 2384000*307/1024 = 714734 -> L -> 729600
    assert gov.raw_target_khz == 714734


def test_schedutil_not_frequency_invariant() -> None:
    new = g.make("schedutil", XAVIER_CPU, rate_limit_us=0, period_s=0.001, freq_invariant=False)
    # v6.8+: ref = cur + cur/4 = 1036800 + 259200 = 1296000; 1296000 * 640/1024 = 810000 -> L -> 883200
    assert new.next_frequency(0.5, 1036800) == 883200
    old = g.make("schedutil", XAVIER_CPU, rate_limit_us=0, period_s=0.001, freq_invariant=False, kernel="5.10")
    # before: (1036800 + 259200) * 512/1024 = 648000 -> L -> 652800 (k=7)
    assert old.next_frequency(0.5, 1036800) == 652800


def test_schedutil_rate_limit_counts_from_last_change() -> None:
    gov = g.make("schedutil", XAVIER_CPU, rate_limit_us=10000, period_s=0.004)
    loads = [0.5, 0.1, 0.1, 0.1, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.1]
    assert run(gov, loads, 115200) == [
        1267200,  # t=0: first call after start always evaluates (limits_changed); 512 -> 1267200
        1267200,  # t=4 ms: 4 < 10 ms since the change: kept
        1267200,  # t=8: kept
        268800,  # t=12: 12 >= 10: util 102 -> 127 -> 1907200*127/1024 = 236537 -> L -> 268800
        268800,  # t=16: 4 ms since the change at 12
        268800,  # t=20: 8 ms
        1907200,  # t=24: util 922 -> min(1152, 1024) -> 1907200
        1907200,  # t=28: held
        1907200,  # t=32: held
        1907200,  # t=36: evaluated, same next_freq: no change, last_freq_update_time stays 24
        268800,  # t=40: 16 ms since the last change (not 4 since the last evaluation): 268800
    ]


def test_schedutil_default_rate_limit_and_period() -> None:
    gov = g.make("schedutil", XU3_A15, transition_latency_us=140)
    assert gov.rate_limit_us == 210  # v6.12+: 140 + 140/2
    assert gov.period_s == pytest.approx(210e-6)
    assert g.make("schedutil", XU3_A15, transition_latency_us=140, kernel=(4, 9)).rate_limit_us == 140000
    assert g.make("schedutil", XU3_A15, rate_limit_us=0).period_s == pytest.approx(0.004)  # one tick, HZ 250


# --------------------------------------------------------------------------- simple_ondemand


def test_simple_ondemand_thresholds_gpu() -> None:
    gov = g.make("simple_ondemand", XAVIER_GPU)  # 90 / 5, polling 50 ms
    # total_time = 50 ms = 50000000 ns >= 2^24 -> both >> 7: total = 390625
    # 0.95: busy 47500000 >> 7 = 371093; 37109300 > 390625*90 = 35156250 -> max
    assert gov.next_frequency(0.95, 510000) == 1109250
    # 0.88: busy 343750; 34375000 <= 35156250 but > 390625*85 = 33203125 -> keep current
    assert gov.next_frequency(0.88, 510000) == 510000
    # 0.90: busy 45000000 >> 7 = 351562; 35156200 is not > 35156250 -> keep, not max
    assert gov.next_frequency(0.90, 752250) == 752250
    # 0.5 at 1109250 kHz: busy 195312; a = 195312 * 1109250000 = 216649836000000
    # a / 390625 = 554623580; * 100 = 55462358000; / (90 - 5/2 = 88) = 630254068 Hz
    # lowest OPP >= 630254068 Hz -> 701250 kHz
    assert gov.next_frequency(0.5, 1109250) == 701250
    # 0.1 at 204000: busy 39062; 39062*204000000/390625*100/88 = 23181520 Hz < min -> 114750
    assert gov.next_frequency(0.1, 204000) == 114750


def test_simple_ondemand_panfrost_thresholds() -> None:
    gov = g.make("simple_ondemand", XAVIER_GPU, upthreshold=45, downdifferential=5)
    # 0.42: busy 21000000 >> 7 = 164062; 16406200 <= 390625*45 = 17578125, > 390625*40 = 15625000: keep
    assert gov.next_frequency(0.42, 510000) == 510000
    # 0.46: busy 23000000 >> 7 = 179687; 17968700 > 17578125 -> max
    assert gov.next_frequency(0.46, 510000) == 1109250


# --------------------------------------------------------------------------- cadence defaults


def test_sampling_periods() -> None:
    # dbs v4.14+: max(2 ticks, transition delay); 2 * TICK_NSEC(HZ 250) = 8000 us
    assert g.OndemandGovernor.sampling_period_s(0) == pytest.approx(0.008)  # max(8000, 1000)
    assert g.OndemandGovernor.sampling_period_s(140) == pytest.approx(0.008)  # max(8000, 210)
    assert g.OndemandGovernor.sampling_period_s(140, kernel=(6, 6)) == pytest.approx(0.010)  # min(140000, 10000)
    # before 4.14: max(max(10000, 100*140), 1000*140) = 140000 us
    assert g.OndemandGovernor.sampling_period_s(140, kernel="4.9") == pytest.approx(0.140)
    # conservative before 4.14, HZ 100: max(max(2*10 ticks = 200000, 14000), 140000) = 200000 us
    assert g.ConservativeGovernor.sampling_period_s(140, kernel=(4, 9), hz=100) == pytest.approx(0.2)
    # HZ 250: max(max(20 ticks = 80000, 14000), 140000) = 140000; latency 50: max(80000, 5000, 50000) = 80000
    assert g.make("conservative", XU3_A15, transition_latency_us=140, kernel=(4, 9)).sampling_rate == 140000
    assert g.make("conservative", XU3_A15, transition_latency_us=50, kernel=(4, 9)).sampling_rate == 80000
    # schedutil rate limit = cpufreq_policy_transition_delay_us()
    assert g.SchedutilGovernor.sampling_period_s(140) == pytest.approx(210e-6)  # 140 + 70
    assert g.SchedutilGovernor.sampling_period_s(140, kernel=(6, 9)) == pytest.approx(0.002)  # min(140000, 2000)
    assert g.SchedutilGovernor.sampling_period_s(5000, kernel=(6, 9)) == pytest.approx(0.005)  # > 2 ms: as is
    assert g.SchedutilGovernor.sampling_period_s(0, kernel=(5, 10)) == pytest.approx(0.001)
    assert g.transition_delay_us(140, (6, 12), driver_transition_delay_us=500) == 500
    assert g.SimpleOndemandGovernor.sampling_period_s() == pytest.approx(0.05)
    assert g.PerformanceGovernor.sampling_period_s(140) is None
    assert g.make("ondemand", XU3_A15).period_s == pytest.approx(0.008)
    assert g.make("powersave", XU3_A15).period_s is None


# --------------------------------------------------------------------------- reset


@pytest.mark.parametrize(
    ("name", "tunables", "table", "loads", "start"),
    [
        ("ondemand", {"up_threshold": 80, "sampling_down_factor": 4}, XU3_A15, [0.9, 0.1, 0.1, 0.3, 0.7], 1000000),
        ("conservative", {}, XAVIER_CPU, [0.9, 0.9, 0.1, 0.9, 0.1], 499200),
        ("schedutil", {"rate_limit_us": 10000, "period_s": 0.004}, XAVIER_CPU, [0.5, 0.9, 0.1, 0.9], 115200),
        ("simple_ondemand", {}, XAVIER_GPU, [0.5, 0.95, 0.2], 510000),
        ("userspace", {}, XAVIER_CPU, [0.1, 0.9], 422400),
    ],
)
def test_reset_restores_initial_state(
    name: str, tunables: dict, table: List[int], loads: List[float], start: int
) -> None:
    gov = g.make(name, table, **tunables)
    first = run(gov, loads, start)
    gov.reset()
    assert run(gov, loads, start) == first
    assert run(g.make(name, table, **tunables), loads, start) == first


def test_reset_clears_ondemand_hold() -> None:
    gov = g.make("ondemand", XU3_A15, up_threshold=80, sampling_down_factor=5)
    assert gov.next_frequency(0.9, 1000000) == 2000000 and gov.rate_mult == 5
    gov.reset()
    assert gov.rate_mult == 1
    assert gov.next_frequency(0.0, 2000000) == 200000  # evaluated at once, not held


def test_reset_restarts_schedutil_clock() -> None:
    gov = g.make("schedutil", XAVIER_CPU, rate_limit_us=10000, period_s=0.004)
    assert gov.next_frequency(0.5, 115200) == 1267200
    assert gov.next_frequency(0.0, 1267200) == 1267200  # rate-limited
    gov.reset()
    assert gov.next_frequency(0.0, 1267200) == 115200  # first call after start: not rate-limited


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("name", "tunables", "field"),
    [
        ("ondemand", {"up_threshold": 10}, "up_threshold"),  # MIN_FREQUENCY_UP_THRESHOLD 11
        ("ondemand", {"up_threshold": 101}, "up_threshold"),
        ("ondemand", {"sampling_down_factor": 0}, "sampling_down_factor"),
        ("ondemand", {"powersave_bias": 1001}, "powersave_bias"),
        ("ondemand", {"sampling_rate": 1000}, "sampling_rate"),  # < 2 ticks (8000 us at HZ 250)
        ("ondemand", {"io_is_busy": 2}, "io_is_busy"),
        ("ondemand", {"up_threshold": 80.5}, "up_threshold"),
        ("conservative", {"down_threshold": 80}, "down_threshold"),  # must be < up_threshold 80
        ("conservative", {"up_threshold": 30, "down_threshold": 40}, "down_threshold"),
        ("conservative", {"freq_step": 101}, "freq_step"),
        ("conservative", {"sampling_down_factor": 11}, "sampling_down_factor"),  # MAX 10
        ("conservative", {"io_is_busy": 1}, "io_is_busy"),  # conservative has no such tunable
        ("schedutil", {"rate_limit_us": -1}, "rate_limit_us"),
        ("schedutil", {"period_s": 0}, "period_s"),
        ("schedutil", {"kernel": (4, 4)}, "kernel"),
        ("schedutil", {"kernel": "six"}, "kernel"),
        ("schedutil", {"up_threshold": 80}, "up_threshold"),
        ("simple_ondemand", {"upthreshold": 101}, "upthreshold"),
        ("simple_ondemand", {"upthreshold": 45, "downdifferential": 50}, "downdifferential"),
        ("simple_ondemand", {"polling_ms": 0}, "polling_ms"),
        ("userspace", {"setspeed_khz": -5}, "setspeed_khz"),
        ("performance", {"foo": 1}, "foo"),
    ],
)
def test_bad_tunables_rejected(name: str, tunables: dict, field: str) -> None:
    with pytest.raises(InputError) as info:
        g.make(name, XU3_A15, **tunables)
    assert info.value.source == f"governor:{name}"
    assert info.value.field == field
    assert "\n" not in str(info.value)


def test_unknown_tunable_lists_accepted_ones() -> None:
    with pytest.raises(InputError, match="unknown tunable; ondemand accepts: up_threshold, sampling_down_factor"):
        g.make("ondemand", XU3_A15, up_treshold=80)


def test_unknown_governor_lists_known_ones() -> None:
    with pytest.raises(InputError) as info:
        g.make("interactive", XU3_A15)
    assert info.value.source == "governor:interactive" and info.value.field == "name"
    for name in g.available():
        assert name in info.value.problem


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ([], "frequencies_khz"),
        ("200000", "frequencies_khz"),
        ([300000, 200000], "frequencies_khz[1]"),
        ([200000, 200000], "frequencies_khz[1]"),
        ([0, 100000], "frequencies_khz[0]"),
        ([100000, 150000.5], "frequencies_khz[1]"),
        ([True, 2], "frequencies_khz[0]"),
    ],
)
def test_bad_frequency_table_rejected(table: object, field: str) -> None:
    with pytest.raises(InputError) as info:
        g.make("schedutil", table)  # type: ignore[arg-type]
    assert info.value.source == "governor:schedutil" and info.value.field == field


def test_bad_load_and_current_rejected() -> None:
    gov = g.make("ondemand", XU3_A15)
    with pytest.raises(InputError, match="load"):
        gov.next_frequency(1.5, 1000000)
    with pytest.raises(InputError, match="load"):
        gov.next_frequency(float("nan"), 1000000)
    with pytest.raises(InputError, match="current_khz"):
        gov.next_frequency(0.5, 0)
    with pytest.raises(InputError, match="iowait"):
        gov.next_frequency(0.8, 1000000, iowait=0.5)  # load + iowait > 1


def test_importable_without_torch() -> None:
    code = "import sys, rlrm.governors; assert 'torch' not in sys.modules; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"
