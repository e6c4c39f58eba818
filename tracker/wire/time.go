package wire

// Timestamp formats ms (Unix milliseconds) as RFC 3339 UTC with
// milliseconds, e.g. 2026-11-21T10:00:00.123Z, without the time package.
// In the browser, Date's toISOString formats them (agent.Env.Timestamp),
// which costs the download less; this is the native reference it is
// tested against, and the agent's tests' clock.
func Timestamp(ms int64) string {
	days := floorDiv(ms, 86400000)
	rem := ms - days*86400000
	y, m, d := civil(days)
	b := make([]byte, 0, 24)
	b = pad(b, y, 4)
	b = append(b, '-')
	b = pad(b, m, 2)
	b = append(b, '-')
	b = pad(b, d, 2)
	b = append(b, 'T')
	b = pad(b, rem/3600000, 2)
	b = append(b, ':')
	b = pad(b, rem/60000%60, 2)
	b = append(b, ':')
	b = pad(b, rem/1000%60, 2)
	b = append(b, '.')
	b = pad(b, rem%1000, 3)
	return string(append(b, 'Z'))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's days_from_civil inverse).
func civil(z int64) (y, m, d int64) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func pad(b []byte, v int64, width int) []byte {
	var buf [8]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, buf[:width]...)
}
