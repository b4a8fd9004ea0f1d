//! Dates as HTTP sends them and as lockfiles record them: an IMF-fixdate header
//! (`Last-Modified`) or a Unix time, as RFC 3339 UTC.

/// Convert an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, the only format HTTP servers may
/// send today) to RFC 3339 (`1994-11-06T08:49:37Z`). `None` for anything else.
pub fn http_date_to_rfc3339(value: &str) -> Option<String> {
    let b = value.trim().as_bytes();
    // Fixed width: "Www, DD Mmm YYYY HH:MM:SS GMT" is 29 bytes.
    if b.len() != 29 || &b[3..5] != b", " || &b[25..] != b" GMT" {
        return None;
    }
    let s = std::str::from_utf8(b).ok()?;
    let digits = |r: std::ops::Range<usize>| -> Option<&str> {
        let part = s.get(r)?;
        part.bytes().all(|c| c.is_ascii_digit()).then_some(part)
    };
    let day = digits(5..7)?;
    let month = match s.get(8..11)? {
        "Jan" => "01",
        "Feb" => "02",
        "Mar" => "03",
        "Apr" => "04",
        "May" => "05",
        "Jun" => "06",
        "Jul" => "07",
        "Aug" => "08",
        "Sep" => "09",
        "Oct" => "10",
        "Nov" => "11",
        "Dec" => "12",
        _ => return None,
    };
    let year = digits(12..16)?;
    let (hh, mm, ss) = (digits(17..19)?, digits(20..22)?, digits(23..25)?);
    if [b[7], b[11], b[16]] != [b' '; 3] || [b[19], b[22]] != [b':'; 2] {
        return None;
    }
    Some(format!("{year}-{month}-{day}T{hh}:{mm}:{ss}Z"))
}

/// Seconds since the Unix epoch as RFC 3339 UTC (for the modification times of local files).
pub fn unix_to_rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01, counting in 400-year eras of
/// 146 097 days that start on March 1st (so the leap day is the last day of a year).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(
            http_date_to_rfc3339("Sun, 06 Nov 1994 08:49:37 GMT").as_deref(),
            Some("1994-11-06T08:49:37Z")
        );
        assert_eq!(http_date_to_rfc3339("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(http_date_to_rfc3339("Sun, 06 Foo 1994 08:49:37 GMT"), None);
        assert_eq!(http_date_to_rfc3339("Sun, 06 Nov 1994 08:49:3x GMT"), None);
    }

    #[test]
    fn unix_times() {
        assert_eq!(unix_to_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(unix_to_rfc3339(784_111_777), "1994-11-06T08:49:37Z");
        assert_eq!(unix_to_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(unix_to_rfc3339(1_709_210_096), "2024-02-29T12:34:56Z");
    }

    proptest::proptest! {
        #[test]
        fn http_date_never_panics(s in ".{0,40}") {
            let _ = http_date_to_rfc3339(&s);
        }
    }
}
