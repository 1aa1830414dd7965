package policy

import (
	"testing"
	"time"
)

func period(t *testing.T, unit string, reset int, zone string) Period {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	return Period{Unit: unit, Reset: reset, Zone: zone, loc: loc}
}

// TestWindowEnd: calendar boundaries at month ends, February, DST changes and reset days;
// a request exactly on a boundary opens the next window.
func TestWindowEnd(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Period
		now  time.Time
		want time.Time
	}{
		{"rolling", Period{Rolling: 24 * time.Hour}, at(t, "UTC", "2026-01-31 10:00"), at(t, "UTC", "2026-02-01 10:00")},
		{"day", period(t, "day", 0, "UTC"), at(t, "UTC", "2026-01-31 10:00"), at(t, "UTC", "2026-02-01 00:00")},
		{"day at boundary", period(t, "day", 0, "UTC"), at(t, "UTC", "2026-02-01 00:00"), at(t, "UTC", "2026-02-02 00:00")},
		{"day in zone", period(t, "day", 0, "Europe/Berlin"), at(t, "UTC", "2026-01-31 23:30"), at(t, "Europe/Berlin", "2026-02-02 00:00")},
		// Berlin's 2026-03-29 has 23 hours; the window still ends at local midnight.
		{"day DST spring", period(t, "day", 0, "Europe/Berlin"), at(t, "Europe/Berlin", "2026-03-29 01:00"), at(t, "Europe/Berlin", "2026-03-30 00:00")},
		{"day DST fall NY", period(t, "day", 0, "America/New_York"), at(t, "America/New_York", "2026-11-01 00:30"), at(t, "America/New_York", "2026-11-02 00:00")},
		{"month", period(t, "month", 1, "UTC"), at(t, "UTC", "2026-01-31 23:59"), at(t, "UTC", "2026-02-01 00:00")},
		{"month at boundary", period(t, "month", 1, "UTC"), at(t, "UTC", "2026-02-01 00:00"), at(t, "UTC", "2026-03-01 00:00")},
		{"month feb", period(t, "month", 1, "UTC"), at(t, "UTC", "2028-02-29 12:00"), at(t, "UTC", "2028-03-01 00:00")},
		{"month reset 28 in feb", period(t, "month", 28, "UTC"), at(t, "UTC", "2026-02-27 12:00"), at(t, "UTC", "2026-02-28 00:00")},
		{"month reset 28 after", period(t, "month", 28, "UTC"), at(t, "UTC", "2026-02-28 00:00"), at(t, "UTC", "2026-03-28 00:00")},
		{"month reset 15 dec", period(t, "month", 15, "UTC"), at(t, "UTC", "2026-12-20 00:00"), at(t, "UTC", "2027-01-15 00:00")},
		{"month Berlin across DST", period(t, "month", 1, "Europe/Berlin"), at(t, "Europe/Berlin", "2026-03-15 12:00"), at(t, "Europe/Berlin", "2026-04-01 00:00")},
		{"month NY from UTC", period(t, "month", 1, "America/New_York"), at(t, "UTC", "2026-04-01 02:00"), at(t, "America/New_York", "2026-04-01 00:00")},
		// 2026-03-25 is a Wednesday.
		{"week mon", period(t, "week", 1, "UTC"), at(t, "UTC", "2026-03-25 12:00"), at(t, "UTC", "2026-03-30 00:00")},
		{"week at boundary", period(t, "week", 1, "UTC"), at(t, "UTC", "2026-03-30 00:00"), at(t, "UTC", "2026-04-06 00:00")},
		{"week sun", period(t, "week", 7, "UTC"), at(t, "UTC", "2026-03-25 12:00"), at(t, "UTC", "2026-03-29 00:00")},
		{"week wed same day", period(t, "week", 3, "UTC"), at(t, "UTC", "2026-03-25 12:00"), at(t, "UTC", "2026-04-01 00:00")},
		{"week over Berlin DST", period(t, "week", 1, "Europe/Berlin"), at(t, "Europe/Berlin", "2026-03-28 12:00"), at(t, "Europe/Berlin", "2026-03-30 00:00")},
		{"week over NY fall", period(t, "week", 1, "America/New_York"), at(t, "America/New_York", "2026-10-31 12:00"), at(t, "America/New_York", "2026-11-02 00:00")},
	} {
		if got := tc.p.WindowEnd(tc.now); !got.Equal(tc.want) {
			t.Errorf("%s: got %v want %v", tc.name, got, tc.want)
		}
	}
	// The day that springs forward is 23 hours long in Berlin.
	p := period(t, "day", 0, "Europe/Berlin")
	if d := p.WindowEnd(at(t, "Europe/Berlin", "2026-03-29 00:00")).Sub(at(t, "Europe/Berlin", "2026-03-29 00:00")); d != 23*time.Hour {
		t.Errorf("spring day lasts %v", d)
	}
}

func TestPeriodString(t *testing.T) {
	for _, tc := range []struct {
		p    Period
		want string
	}{
		{Period{Rolling: 24 * time.Hour}, "24h"},
		{Period{Rolling: 90 * time.Minute}, "1h30m"},
		{Period{Unit: "day", Zone: "UTC"}, "day (UTC)"},
		{Period{Unit: "month", Reset: 1, Zone: "Europe/Berlin"}, "month, reset 1 (Europe/Berlin)"},
		{Period{Unit: "week", Reset: 7, Zone: "UTC"}, "week, reset sun (UTC)"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("got %q want %q", got, tc.want)
		}
	}
}
