from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, strategies as st

import kerasrec as kr
from kerasrec import PipelineError
from kerasrec.features import context_features
from tests.conftest import write_xlsx


def _ts(text: str) -> int:
    return int(pd.Timestamp(text).timestamp())


def test_daytime_bounds_are_exclusive():
    hours = [_ts(f"2024-01-03 {h:02d}:30:00+00:00") for h in (5, 6, 7, 19, 20, 21)]
    assert context_features(np.array(hours))[:, 0].tolist() == [0, 0, 1, 1, 0, 0]


def test_weekend_is_saturday_and_sunday():
    days = [_ts(f"2024-01-{d:02d} 12:00:00+00:00") for d in range(1, 8)]  # Mon..Sun
    assert context_features(np.array(days))[:, 1].tolist() == [0, 0, 0, 0, 0, 1, 1]


def test_midnight_depends_on_the_time_zone():
    # Friday 23:30 in UTC is already Saturday 00:30 in Berlin (UTC+1 in winter).
    ts = np.array([_ts("2024-01-05 23:30:00+00:00")])
    assert context_features(ts, "UTC")[0].tolist() == [0, 0]
    assert context_features(ts, "Europe/Berlin")[0].tolist() == [0, 1]
    # ... and still Friday 18:30 (daytime) in New York.
    assert context_features(ts, "America/New_York")[0].tolist() == [1, 0]


def test_daylight_saving_change():
    # 2024-03-31 Berlin switches to UTC+2 at 01:00 UTC. 05:30 UTC is 06:30 then
    # (not daytime: 6 < hour needs 7+), while 05:30 UTC a day earlier was 06:30 too.
    before = _ts("2024-03-30 05:30:00+00:00")  # UTC+1 -> 06:30
    after = _ts("2024-03-31 05:30:00+00:00")   # UTC+2 -> 07:30
    flags = context_features(np.array([before, after]), "Europe/Berlin")
    assert flags[:, 0].tolist() == [0, 1]


def test_unknown_zone_is_a_clear_error():
    with pytest.raises(PipelineError, match="unknown time zone"):
        context_features(np.array([0]), "Mars/Olympus")


@given(st.integers(0, 2**33))
def test_utc_flags_match_datetime(ts):
    when = pd.Timestamp(ts, unit="s", tz="UTC")
    daytime, weekend = context_features(np.array([ts]))[0]
    assert daytime == (6 < when.hour < 20) and weekend == (when.day_of_week >= 5)


@given(st.integers(0, 2**32), st.sampled_from(["UTC", "Europe/Berlin", "America/New_York",
                                               "Asia/Kolkata", "Australia/Lord_Howe",
                                               "Pacific/Chatham"]),
       st.tuples(st.integers(0, 23), st.integers(1, 24)).filter(lambda h: h[0] < h[1]))
def test_flags_match_the_standard_library_in_any_zone(ts, zone, hours):
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    when = datetime.fromtimestamp(ts, timezone.utc).astimezone(ZoneInfo(zone))
    daytime, weekend = context_features(np.array([ts]), zone, daytime_hours=hours)[0]
    assert daytime == (hours[0] < when.hour < hours[1])
    assert weekend == (when.weekday() >= 5)


def test_times_are_read_as_the_loaders_read_them(tmp_path, products, ratings):
    from kerasrec.features.context import unix_seconds

    seconds = ratings["timestamp"].to_numpy()
    dates = pd.to_datetime(seconds, unit="s")
    # a workbook of date cells, loaded: the loaders' own reading of the same times
    path = write_xlsx(tmp_path / "dates.xlsx", {"products": products,
                                                "users": ratings.assign(timestamp=dates)})
    assert kr.load_movies(path).ratings["timestamp"].tolist() == seconds.tolist()
    for times in (seconds, seconds.astype(float), pd.Series(dates), dates.tz_localize("UTC"),
                  dates.tz_localize("UTC").tz_convert("Asia/Tokyo"),
                  pd.Series(list(dates.to_pydatetime()), dtype=object),
                  dates.strftime("%Y-%m-%dT%H:%M:%S")):
        assert unix_seconds(times).tolist() == seconds.tolist(), times
    # unknown times are -1, as everywhere in the pipeline
    assert unix_seconds(pd.Series([seconds[0], np.nan])).tolist() == [seconds[0], -1]
    assert unix_seconds(pd.Series([dates[0], pd.NaT])).tolist() == [seconds[0], -1]


@pytest.mark.parametrize("times, words", [
    (["01/02/2020"], "Unix seconds or dates"),
    ([2 ** 70], "between 0 (1970)"),
    ([-5], "between 0 (1970)"),
])
def test_unreadable_times_are_argument_errors(times, words):
    from kerasrec.features.context import unix_seconds

    with pytest.raises(kr.ArgumentError, match=re.escape(words)):
        unix_seconds(times)


def test_one_context_flag_without_the_other_is_refused(tiny):
    """A frame with a daytime column and no weekend column was scored as a weekday
    night, its daytime flag ignored in silence."""
    pipeline = kr.FeaturePipeline().fit(tiny)
    pairs = tiny.ratings[["userId", "movieId"]]
    with pytest.raises(PipelineError, match="a 'daytime' column needs a 'weekend' column "
                                            "beside it"):
        pipeline.context(pairs.assign(daytime=1))
    with pytest.raises(PipelineError, match="must hold 0 or 1"):
        pipeline.context(pairs.assign(daytime="yes", weekend=0))
    both = pipeline.context(pairs.assign(daytime=1, weekend=[0, 1, 0, 1, 0]))
    assert both.tolist() == [[1, 0], [1, 1], [1, 0], [1, 1], [1, 0]]
    # a known timestamp decides where there is one, as before
    dated = pipeline.context(pairs.assign(daytime=0, weekend=0,
                                          timestamp=[_ts("2021-06-05 12:00")] + [-1] * 4))
    assert dated[0].tolist() == [1, 1] and dated[1:].sum() == 0
