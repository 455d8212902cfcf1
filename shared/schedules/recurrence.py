"""When a recurring schedule fires: Azure ML's `ScheduleRecurrence`, as instants in UTC.

    frequency  Minute | Hour | Day | Week | Month, every `interval` of them
    start_time the first occurrence, and what the pattern is counted from; without it the pattern counts from the
               schedule's creation, so a plain `Week, interval=1` fires as it is created and then every week
               (Azure ML runs the first workload instantly), while one with times of day waits for the first
    time_zone  the zone of a start_time without an offset, and of hours/minutes/time_of_day (IANA or Windows names)
    hours, minutes, time_of_day   the times of day, for Day and Week;  week_days  the days, for Week

Minute and Hour steps are spans of elapsed time. Day, Week and Month occurrences are wall-clock times in the
schedule's zone, so a 09:00 schedule stays at 09:00 across daylight-saving changes; a time the clocks skip (02:30 on
a spring-forward night) fires at the same elapsed offset after the change (03:30), and a time the clocks repeat
fires once, at its first occurrence. A Month schedule on the 31st fires on the last day of shorter months.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import NotRequired, TypedDict, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.core.errors import InvalidInput

FREQUENCIES = ("Minute", "Hour", "Day", "Week", "Month")
WEEK_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
#: Azure ML's 131 time zones (`TimeZone`): its member name, the Windows zone name it sends (its value), and the IANA
#: zone that Windows zone is, as Unicode CLDR's windowsZones maps it (territory "001"). The two zones Windows
#: retired (Mid-Atlantic, Kamchatka) map to the zones that replaced them.
TIME_ZONES: tuple[tuple[str, str, str], ...] = (
    ("DatelineStandardTime", "Dateline Standard Time", "Etc/GMT+12"),
    ("UTC11", "UTC-11", "Etc/GMT+11"),
    ("AleutianStandardTime", "Aleutian Standard Time", "America/Adak"),
    ("HawaiianStandardTime", "Hawaiian Standard Time", "Pacific/Honolulu"),
    ("MarquesasStandardTime", "Marquesas Standard Time", "Pacific/Marquesas"),
    ("AlaskanStandardTime", "Alaskan Standard Time", "America/Anchorage"),
    ("UTC09", "UTC-09", "Etc/GMT+9"),
    ("PacificStandardTimeMexico", "Pacific Standard Time (Mexico)", "America/Tijuana"),
    ("UTC08", "UTC-08", "Etc/GMT+8"),
    ("PacificStandardTime", "Pacific Standard Time", "America/Los_Angeles"),
    ("USMountainStandardTime", "US Mountain Standard Time", "America/Phoenix"),
    ("MountainStandardTimeMexico", "Mountain Standard Time (Mexico)", "America/Mazatlan"),
    ("MountainStandardTime", "Mountain Standard Time", "America/Denver"),
    ("CentralAmericaStandardTime", "Central America Standard Time", "America/Guatemala"),
    ("CentralStandardTime", "Central Standard Time", "America/Chicago"),
    ("EasterIslandStandardTime", "Easter Island Standard Time", "Pacific/Easter"),
    ("CentralStandardTimeMexico", "Central Standard Time (Mexico)", "America/Mexico_City"),
    ("CanadaCentralStandardTime", "Canada Central Standard Time", "America/Regina"),
    ("SAPacificStandardTime", "SA Pacific Standard Time", "America/Bogota"),
    ("EasternStandardTimeMexico", "Eastern Standard Time (Mexico)", "America/Cancun"),
    ("EasternStandardTime", "Eastern Standard Time", "America/New_York"),
    ("HaitiStandardTime", "Haiti Standard Time", "America/Port-au-Prince"),
    ("CubaStandardTime", "Cuba Standard Time", "America/Havana"),
    ("USEasternStandardTime", "US Eastern Standard Time", "America/Indiana/Indianapolis"),
    ("ParaguayStandardTime", "Paraguay Standard Time", "America/Asuncion"),
    ("AtlanticStandardTime", "Atlantic Standard Time", "America/Halifax"),
    ("VenezuelaStandardTime", "Venezuela Standard Time", "America/Caracas"),
    ("CentralBrazilianStandardTime", "Central Brazilian Standard Time", "America/Cuiaba"),
    ("SAWesternStandardTime", "SA Western Standard Time", "America/La_Paz"),
    ("PacificSAStandardTime", "Pacific SA Standard Time", "America/Santiago"),
    ("TurksAndCaicosStandardTime", "Turks And Caicos Standard Time", "America/Grand_Turk"),
    ("NewfoundlandStandardTime", "Newfoundland Standard Time", "America/St_Johns"),
    ("TocantinsStandardTime", "Tocantins Standard Time", "America/Araguaina"),
    ("ESouthAmericaStandardTime", "E. South America Standard Time", "America/Sao_Paulo"),
    ("SAEasternStandardTime", "SA Eastern Standard Time", "America/Cayenne"),
    ("ArgentinaStandardTime", "Argentina Standard Time", "America/Argentina/Buenos_Aires"),
    ("GreenlandStandardTime", "Greenland Standard Time", "America/Nuuk"),
    ("MontevideoStandardTime", "Montevideo Standard Time", "America/Montevideo"),
    ("SaintPierreStandardTime", "Saint Pierre Standard Time", "America/Miquelon"),
    ("BahiaStandardTime", "Bahia Standard Time", "America/Bahia"),
    ("UTC02", "UTC-02", "Etc/GMT+2"),
    ("MidAtlanticStandardTime", "Mid-Atlantic Standard Time", "Etc/GMT+2"),
    ("AzoresStandardTime", "Azores Standard Time", "Atlantic/Azores"),
    ("CapeVerdeStandardTime", "Cape Verde Standard Time", "Atlantic/Cape_Verde"),
    ("UTC", "UTC", "UTC"),
    ("MoroccoStandardTime", "Morocco Standard Time", "Africa/Casablanca"),
    ("GMTStandardTime", "GMT Standard Time", "Europe/London"),
    ("GreenwichStandardTime", "Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("WEuropeStandardTime", "W. Europe Standard Time", "Europe/Berlin"),
    ("CentralEuropeStandardTime", "Central Europe Standard Time", "Europe/Budapest"),
    ("RomanceStandardTime", "Romance Standard Time", "Europe/Paris"),
    ("CentralEuropeanStandardTime", "Central European Standard Time", "Europe/Warsaw"),
    ("WCentralAfricaStandardTime", "W. Central Africa Standard Time", "Africa/Lagos"),
    ("NamibiaStandardTime", "Namibia Standard Time", "Africa/Windhoek"),
    ("JordanStandardTime", "Jordan Standard Time", "Asia/Amman"),
    ("GTBStandardTime", "GTB Standard Time", "Europe/Bucharest"),
    ("MiddleEastStandardTime", "Middle East Standard Time", "Asia/Beirut"),
    ("EgyptStandardTime", "Egypt Standard Time", "Africa/Cairo"),
    ("EEuropeStandardTime", "E. Europe Standard Time", "Europe/Chisinau"),
    ("SyriaStandardTime", "Syria Standard Time", "Asia/Damascus"),
    ("WestBankStandardTime", "West Bank Standard Time", "Asia/Hebron"),
    ("SouthAfricaStandardTime", "South Africa Standard Time", "Africa/Johannesburg"),
    ("FLEStandardTime", "FLE Standard Time", "Europe/Kiev"),
    ("TurkeyStandardTime", "Turkey Standard Time", "Europe/Istanbul"),
    ("IsraelStandardTime", "Israel Standard Time", "Asia/Jerusalem"),
    ("KaliningradStandardTime", "Kaliningrad Standard Time", "Europe/Kaliningrad"),
    ("LibyaStandardTime", "Libya Standard Time", "Africa/Tripoli"),
    ("ArabicStandardTime", "Arabic Standard Time", "Asia/Baghdad"),
    ("ArabStandardTime", "Arab Standard Time", "Asia/Riyadh"),
    ("BelarusStandardTime", "Belarus Standard Time", "Europe/Minsk"),
    ("RussianStandardTime", "Russian Standard Time", "Europe/Moscow"),
    ("EAfricaStandardTime", "E. Africa Standard Time", "Africa/Nairobi"),
    ("IranStandardTime", "Iran Standard Time", "Asia/Tehran"),
    ("ArabianStandardTime", "Arabian Standard Time", "Asia/Dubai"),
    ("AstrakhanStandardTime", "Astrakhan Standard Time", "Europe/Astrakhan"),
    ("AzerbaijanStandardTime", "Azerbaijan Standard Time", "Asia/Baku"),
    ("RussiaTimeZone3", "Russia Time Zone 3", "Europe/Samara"),
    ("MauritiusStandardTime", "Mauritius Standard Time", "Indian/Mauritius"),
    ("GeorgianStandardTime", "Georgian Standard Time", "Asia/Tbilisi"),
    ("CaucasusStandardTime", "Caucasus Standard Time", "Asia/Yerevan"),
    ("AfghanistanStandardTime", "Afghanistan Standard Time", "Asia/Kabul"),
    ("WestAsiaStandardTime", "West Asia Standard Time", "Asia/Tashkent"),
    ("EkaterinburgStandardTime", "Ekaterinburg Standard Time", "Asia/Yekaterinburg"),
    ("PakistanStandardTime", "Pakistan Standard Time", "Asia/Karachi"),
    ("IndiaStandardTime", "India Standard Time", "Asia/Kolkata"),
    ("SriLankaStandardTime", "Sri Lanka Standard Time", "Asia/Colombo"),
    ("NepalStandardTime", "Nepal Standard Time", "Asia/Kathmandu"),
    ("CentralAsiaStandardTime", "Central Asia Standard Time", "Asia/Almaty"),
    ("BangladeshStandardTime", "Bangladesh Standard Time", "Asia/Dhaka"),
    ("NCentralAsiaStandardTime", "N. Central Asia Standard Time", "Asia/Novosibirsk"),
    ("MyanmarStandardTime", "Myanmar Standard Time", "Asia/Yangon"),
    ("SEAsiaStandardTime", "SE Asia Standard Time", "Asia/Bangkok"),
    ("AltaiStandardTime", "Altai Standard Time", "Asia/Barnaul"),
    ("WMongoliaStandardTime", "W. Mongolia Standard Time", "Asia/Hovd"),
    ("NorthAsiaStandardTime", "North Asia Standard Time", "Asia/Krasnoyarsk"),
    ("TomskStandardTime", "Tomsk Standard Time", "Asia/Tomsk"),
    ("ChinaStandardTime", "China Standard Time", "Asia/Shanghai"),
    ("NorthAsiaEastStandardTime", "North Asia East Standard Time", "Asia/Irkutsk"),
    ("SingaporeStandardTime", "Singapore Standard Time", "Asia/Singapore"),
    ("WAustraliaStandardTime", "W. Australia Standard Time", "Australia/Perth"),
    ("TaipeiStandardTime", "Taipei Standard Time", "Asia/Taipei"),
    ("UlaanbaatarStandardTime", "Ulaanbaatar Standard Time", "Asia/Ulaanbaatar"),
    ("NorthKoreaStandardTime", "North Korea Standard Time", "Asia/Pyongyang"),
    ("AusCentralWStandardTime", "Aus Central W. Standard Time", "Australia/Eucla"),
    ("TransbaikalStandardTime", "Transbaikal Standard Time", "Asia/Chita"),
    ("TokyoStandardTime", "Tokyo Standard Time", "Asia/Tokyo"),
    ("KoreaStandardTime", "Korea Standard Time", "Asia/Seoul"),
    ("YakutskStandardTime", "Yakutsk Standard Time", "Asia/Yakutsk"),
    ("CenAustraliaStandardTime", "Cen. Australia Standard Time", "Australia/Adelaide"),
    ("AUSCentralStandardTime", "AUS Central Standard Time", "Australia/Darwin"),
    ("EAustraliaStandardTime", "E. Australia Standard Time", "Australia/Brisbane"),
    ("AUSEasternStandardTime", "AUS Eastern Standard Time", "Australia/Sydney"),
    ("WestPacificStandardTime", "West Pacific Standard Time", "Pacific/Port_Moresby"),
    ("TasmaniaStandardTime", "Tasmania Standard Time", "Australia/Hobart"),
    ("VladivostokStandardTime", "Vladivostok Standard Time", "Asia/Vladivostok"),
    ("LordHoweStandardTime", "Lord Howe Standard Time", "Australia/Lord_Howe"),
    ("BougainvilleStandardTime", "Bougainville Standard Time", "Pacific/Bougainville"),
    ("RussiaTimeZone10", "Russia Time Zone 10", "Asia/Srednekolymsk"),
    ("MagadanStandardTime", "Magadan Standard Time", "Asia/Magadan"),
    ("NorfolkStandardTime", "Norfolk Standard Time", "Pacific/Norfolk"),
    ("SakhalinStandardTime", "Sakhalin Standard Time", "Asia/Sakhalin"),
    ("CentralPacificStandardTime", "Central Pacific Standard Time", "Pacific/Guadalcanal"),
    ("RussiaTimeZone11", "Russia Time Zone 11", "Asia/Kamchatka"),
    ("NewZealandStandardTime", "New Zealand Standard Time", "Pacific/Auckland"),
    ("UTC12", "UTC+12", "Etc/GMT-12"),
    ("FijiStandardTime", "Fiji Standard Time", "Pacific/Fiji"),
    ("KamchatkaStandardTime", "Kamchatka Standard Time", "Asia/Kamchatka"),
    ("ChathamIslandsStandardTime", "Chatham Islands Standard Time", "Pacific/Chatham"),
    ("TongaStandardTime", "Tonga Standard Time", "Pacific/Tongatapu"),
    ("SamoaStandardTime", "Samoa Standard Time", "Pacific/Apia"),
    ("LineIslandsStandardTime", "Line Islands Standard Time", "Pacific/Kiritimati"),
)
#: Windows zone name -> IANA zone, for every Azure ML TimeZone (and the long name of UTC).
WINDOWS_ZONES: dict[str, str] = {windows: iana for _, windows, iana in TIME_ZONES} | {
    "Coordinated Universal Time": "UTC"
}


class RecurrenceDocument(TypedDict):
    """A recurrence as the SDK sends it (`ScheduleRecurrence._document`, which leaves out what is not set) and a
    schedule record keeps it (its `recurrence`), once `Recurrence.parse` has checked it. A raw HTTP caller may send
    null for an optional key; other keys it sends are kept as sent, and read by nothing."""

    frequency: str  # one of FREQUENCIES
    interval: int  # at least 1
    start_time: NotRequired[str | None]  # ISO 8601, with or without an offset
    time_zone: NotRequired[str | None]  # IANA or Windows name (TIME_ZONES)
    hours: NotRequired[list[int] | None]
    minutes: NotRequired[list[int] | None]
    week_days: NotRequired[list[str] | None]  # WEEK_DAYS names
    time_of_day: NotRequired[str | None]  # "HH:MM"


def zone(name: object) -> ZoneInfo:
    """The zone called `name` (IANA, or a Windows name Azure ML uses); UTC when not given."""
    if name is None or name == "":
        return ZoneInfo("UTC")
    if not isinstance(name, str):
        raise InvalidInput(f"time_zone must be a time zone's name, not {name!r}", field="time_zone")
    try:
        return ZoneInfo(WINDOWS_ZONES.get(name, name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        message = f"unknown time zone {name!r}: use an IANA name or an Azure ML TimeZone"
        raise InvalidInput(message, field="time_zone") from exc


def _ints(field_name: str, values: object, low: int, high: int) -> tuple[int, ...]:
    if values is None:
        return ()
    if not isinstance(values, list) or not values:
        raise InvalidInput(f"{field_name} must be a non-empty list of integers {low}-{high}", field=field_name)
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidInput(f"{field_name} must hold integers {low}-{high}, not {value!r}", field=field_name)
    return tuple(sorted(set(values)))


@dataclass(frozen=True)
class Recurrence:
    frequency: str
    interval: int
    start_time: datetime | None  # aware
    zone: ZoneInfo
    document: RecurrenceDocument = field(compare=False)  # what was parsed, as it is stored
    times: tuple[time, ...] = ()  # times of day (Day, Week); empty: the anchor's time
    week_days: tuple[int, ...] = ()  # 0 = Monday (Week); empty: the anchor's day

    @classmethod
    def parse(cls, document: object) -> Recurrence:
        """Check a recurrence as the SDK sends it, naming the first problem."""
        if not isinstance(document, dict):
            raise InvalidInput("'recurrence' must be an object", field="recurrence")
        frequency = document.get("frequency")
        if frequency not in FREQUENCIES:
            raise InvalidInput(f"frequency must be one of {list(FREQUENCIES)}, not {frequency!r}", field="frequency")
        interval = document.get("interval")
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise InvalidInput(f"interval must be a positive integer, not {interval!r}", field="interval")
        tz = zone(document.get("time_zone"))
        start = document.get("start_time")
        start_time: datetime | None = None
        if start is not None:
            if not isinstance(start, str):
                raise InvalidInput(f"start_time must be an ISO 8601 string, not {start!r}", field="start_time")
            try:
                start_time = datetime.fromisoformat(str(start))
            except ValueError as exc:
                message = f"start_time {start!r} is not an ISO 8601 date and time"
                raise InvalidInput(message, field="start_time") from exc
            if start_time.tzinfo is None:
                start_time = start_time.replace(tzinfo=tz)
            elif not document.get("time_zone"):
                tz = start_time.tzinfo if isinstance(start_time.tzinfo, ZoneInfo) else tz
        hours = _ints("hours", document.get("hours"), 0, 23)
        minutes = _ints("minutes", document.get("minutes"), 0, 59)
        time_of_day = document.get("time_of_day")
        days = document.get("week_days")
        if (hours or minutes or time_of_day) and frequency not in ("Day", "Week"):
            raise InvalidInput("hours, minutes and time_of_day apply to Day and Week schedules only", field="frequency")
        if days is not None and frequency != "Week":
            raise InvalidInput("week_days apply to Week schedules only", field="week_days")
        if time_of_day is not None and (hours or minutes):
            raise InvalidInput("give time_of_day or hours/minutes, not both", field="time_of_day")
        times: tuple[time, ...] = ()
        if time_of_day is not None:
            if not isinstance(time_of_day, str):
                raise InvalidInput(f"time_of_day must be a string 'HH:MM', not {time_of_day!r}", field="time_of_day")
            try:
                parsed = time.fromisoformat(str(time_of_day))
            except ValueError as exc:
                raise InvalidInput(f"time_of_day {time_of_day!r} is not 'HH:MM'", field="time_of_day") from exc
            times = (parsed.replace(second=0, microsecond=0),)
        elif hours or minutes:
            times = tuple(time(h, m) for h in (hours or (0,)) for m in (minutes or (0,)))
        week_days: tuple[int, ...] = ()
        if days is not None:
            if not isinstance(days, list) or not days or any(d not in WEEK_DAYS for d in days):
                raise InvalidInput(f"week_days must be a non-empty list of {list(WEEK_DAYS)}", field="week_days")
            week_days = tuple(sorted({WEEK_DAYS.index(d) for d in days}))
        checked = cast(RecurrenceDocument, dict(document))  # frequency and interval checked above, the rest read
        return cls(frequency, interval, start_time, tz, checked, times, week_days)

    @property
    def advanced(self) -> bool:
        return bool(self.times or self.week_days)

    # -- occurrences ---------------------------------------------------------------------------------------------

    def latest(self, created: datetime, after: datetime, until: datetime) -> datetime | None:
        """The last occurrence in (after, until], for a schedule created at `created`; None when there is none."""
        anchor = (self.start_time or created).astimezone(UTC)
        candidate = self._latest_pattern(anchor, until.astimezone(UTC))
        return candidate if candidate is not None and candidate > after.astimezone(UTC) else None

    def occurrences(self, created: datetime, after: datetime, until: datetime) -> list[datetime]:
        """Every occurrence in (after, until], oldest first (for tests and previews; the runner fires `latest`)."""
        found: list[datetime] = []
        cursor = until
        while (occurrence := self.latest(created, after, cursor)) is not None:
            found.append(occurrence)
            cursor = occurrence - timedelta(microseconds=1)
        return found[::-1]

    def _latest_pattern(self, anchor: datetime, until: datetime) -> datetime | None:
        if until < anchor:
            return None
        if self.frequency in ("Minute", "Hour"):
            step = timedelta(minutes=self.interval) if self.frequency == "Minute" else timedelta(hours=self.interval)
            return anchor + ((until - anchor) // step) * step
        local_anchor = anchor.astimezone(self.zone)
        for day in self._days_back(local_anchor.date(), until.astimezone(self.zone).date()):
            for moment in sorted(self._moments(day, local_anchor), reverse=True):
                if anchor <= moment <= until:
                    return moment
        return None

    def _days_back(self, first: date, last: date) -> Iterator[date]:
        """Days from `last` back to `first` on which the pattern has occurrences (one day of slack each side for
        zone offsets is not needed: both ends are already local dates)."""
        day = last
        while day >= first:
            if self._on(day, first):
                yield day
            day -= timedelta(days=1)

    def _on(self, day: date, first: date) -> bool:
        if self.frequency == "Day":
            return (day - first).days % self.interval == 0
        if self.frequency == "Week":
            week = ((day - first).days + first.weekday()) // 7  # weeks counted from the anchor's Monday
            return week % self.interval == 0 and day.weekday() in (self.week_days or (first.weekday(),))
        months = (day.year - first.year) * 12 + day.month - first.month
        return months % self.interval == 0 and day.day == min(first.day, calendar.monthrange(day.year, day.month)[1])

    def _moments(self, day: date, local_anchor: datetime) -> list[datetime]:
        times = self.times or (local_anchor.timetz().replace(tzinfo=None),)
        return [datetime.combine(day, moment, tzinfo=self.zone).astimezone(UTC) for moment in times]
