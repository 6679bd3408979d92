//! The cookie-date algorithm of RFC 6265 §5.1.1, which reads the `Expires` attribute.
//!
//! It is deliberately lenient: it picks a time, a day of the month, a month and a year
//! out of any sequence of tokens, in any order, so `Wed, 09 Jun 2021 10:18:14 GMT`,
//! `Wednesday, 09-Jun-21 10:18:14 GMT`, `Wed Jun  9 10:18:14 2021` and
//! `9 jun 2021 10:18:14` all parse. The time zone is always UTC, whatever is written.

/// Seconds since the Unix epoch (negative before 1970) of the date in `value`, or
/// `None` when §5.1.1 says to fail.
pub(crate) fn parse_cookie_date(value: &[u8]) -> Option<i64> {
    let mut time: Option<(u32, u32, u32)> = None;
    let mut day: Option<u32> = None;
    let mut month: Option<u32> = None;
    let mut year: Option<u32> = None;

    for token in value.split(|&b| is_delimiter(b)).filter(|t| !t.is_empty()) {
        if time.is_none() {
            if let Some(hms) = match_time(token) {
                time = Some(hms);
                continue;
            }
        }
        if day.is_none() {
            if let Some(d) = match_digits(token, 1, 2) {
                day = Some(d);
                continue;
            }
        }
        if month.is_none() {
            if let Some(m) = match_month(token) {
                month = Some(m);
                continue;
            }
        }
        if year.is_none() {
            if let Some(y) = match_digits(token, 2, 4) {
                year = Some(y);
                continue;
            }
        }
    }

    let (hour, minute, second) = time?;
    let (day, month, mut year) = (day?, month?, year?);
    // Step 3 and 4: two-digit years.
    if (70..=99).contains(&year) {
        year += 1900;
    } else if year <= 69 {
        year += 2000;
    }
    // Step 5.
    if !(1..=31).contains(&day) || year < 1601 || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // Step 6: the date must exist.
    if day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    Some(days * 86_400 + i64::from(hour * 3600 + minute * 60 + second))
}

/// `delimiter = %x09 / %x20-2F / %x3B-40 / %x5B-60 / %x7B-7E`
fn is_delimiter(b: u8) -> bool {
    matches!(b, 0x09 | 0x20..=0x2F | 0x3B..=0x40 | 0x5B..=0x60 | 0x7B..=0x7E)
}

/// `min*max DIGIT ( non-digit *OCTET )`: the leading digits' value.
fn match_digits(token: &[u8], min: usize, max: usize) -> Option<u32> {
    let (value, rest) = leading_digits(token, min, max)?;
    match rest.first() {
        Some(b) if b.is_ascii_digit() => None,
        _ => Some(value),
    }
}

/// Reads `min..=max` digits at the start of `token`; returns their value and the rest.
/// The rest may begin with a digit when more than `max` digits are present.
fn leading_digits(token: &[u8], min: usize, max: usize) -> Option<(u32, &[u8])> {
    let count = token
        .iter()
        .take(max)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if count < min {
        return None;
    }
    let value = token[..count]
        .iter()
        .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
    Some((value, &token[count..]))
}

/// `time = hms-time ( non-digit *OCTET )`, `hms-time = time-field ":" time-field ":"
/// time-field`, `time-field = 1*2DIGIT`.
fn match_time(token: &[u8]) -> Option<(u32, u32, u32)> {
    let (hour, rest) = leading_digits(token, 1, 2)?;
    let rest = rest.strip_prefix(b":")?;
    let (minute, rest) = leading_digits(rest, 1, 2)?;
    let rest = rest.strip_prefix(b":")?;
    let (second, rest) = leading_digits(rest, 1, 2)?;
    match rest.first() {
        Some(b) if b.is_ascii_digit() => None,
        _ => Some((hour, minute, second)),
    }
}

/// `month = ( "jan" / … / "dec" ) *OCTET`, case-insensitive; 1-based.
fn match_month(token: &[u8]) -> Option<u32> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    let prefix = token.get(..3)?;
    MONTHS
        .iter()
        .position(|m| prefix.eq_ignore_ascii_case(&m[..]))
        .and_then(|i| u32::try_from(i + 1).ok())
}

fn is_leap(year: u32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse_cookie_date;

    #[test]
    fn cookie_dates() {
        // 2021-06-09T10:18:14Z
        const T: i64 = 1_623_233_894;
        let table: &[(&str, Option<i64>)] = &[
            ("Wed, 09 Jun 2021 10:18:14 GMT", Some(T)),
            ("Wednesday, 09-Jun-21 10:18:14 GMT", Some(T)),
            ("Wed Jun  9 10:18:14 2021", Some(T)),
            ("9 jun 2021 10:18:14", Some(T)),
            ("2021 JUNE 09 10:18:14", Some(T)),
            ("Wed, 09-Jun-2021 10:18:14 UTC+0300", Some(T)),
            ("10:18:14 09 Jun 2021", Some(T)),
            ("Thu, 01 Jan 1970 00:00:00 GMT", Some(0)),
            ("Thu, 01 Jan 1970 00:00:01 GMT", Some(1)),
            ("Wed, 31 Dec 1969 23:59:59 GMT", Some(-1)),
            ("Sat, 01 Jan 1601 00:00:00 GMT", Some(-11_644_473_600)),
            ("Fri, 31 Dec 9999 23:59:59 GMT", Some(253_402_300_799)),
            ("Tue, 29 Feb 2000 00:00:00 GMT", Some(951_782_400)),
            ("01 Jan 69 00:00:00", Some(3_124_224_000)), // 2069
            ("01 Jan 70 00:00:00", Some(0)),             // 1970
            // Single-digit time fields; trailing junk after the time.
            ("1 Jan 1970 0:0:1xyz", Some(1)),
            // The first token that matches each field wins: 01 is the day, 02 the
            // year (2002).
            ("01 02 Jan 1970 00:00:00", Some(1_009_843_200)),
            // Failures.
            ("Wed, 09 Jun 2021", None),
            ("Wed, 09 Jun 10:18:14 GMT", None),
            ("09 2021 10:18:14", None),
            ("Mon, 31 Jun 2021 10:18:14 GMT", None),
            ("Thu, 29 Feb 2001 00:00:00 GMT", None),
            ("Wed, 32 Jun 2021 10:18:14 GMT", None),
            ("Wed, 00 Jun 2021 10:18:14 GMT", None),
            ("Wed, 09 Jun 2021 24:00:00 GMT", None),
            ("Wed, 09 Jun 2021 23:60:00 GMT", None),
            ("Wed, 09 Jun 2021 23:00:60 GMT", None),
            ("Wed, 09 Jun 1600 10:18:14 GMT", None),
            ("Wed, 09 Jun 20210 10:18:14 GMT", None),
            ("Wed, 009 Jun 2021 10:18:14 GMT", None),
            ("", None),
            ("0", None),
        ];
        for (input, want) in table {
            assert_eq!(parse_cookie_date(input.as_bytes()), *want, "{input:?}");
        }
    }

    #[test]
    fn never_panics_on_odd_bytes() {
        for input in [
            &b"\xff\xfe 10:10:10 1 jan 2000"[..],
            b"99:99:99999",
            b"1:2:3:4:5:6",
            b";;;,,,",
            b"\x00\x01\x7f",
        ] {
            let _ = parse_cookie_date(input);
        }
        assert_eq!(
            parse_cookie_date(b"\xff\xfe 10:10:10 1 jan 2000"),
            Some(946_721_410)
        );
    }
}
