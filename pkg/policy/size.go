package policy

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Sizes are written as in the environment: 1024-based units, case-insensitive. This is the one
// parser of sizes; internal/config's ParseSize reads the environment's with it.

var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
	"t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
	"p": 1 << 50, "pb": 1 << 50, "pib": 1 << 50,
}

// SizeAccepted says what a size may look like, for error messages.
const SizeAccepted = "a size such as 1024, 500MB, 1.5TB or 10GiB (1024-based)"

const sizeAccepted = SizeAccepted

// ParseSize reads a size such as "500MB" (see SizeAccepted).
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	f, err := strconv.ParseFloat(num, 64)
	mult, ok := sizeUnits[unit]
	if err != nil || !ok || f < 0 || math.IsInf(f*mult, 0) || f*mult >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is not a size (accepted: %s)", s, sizeAccepted)
	}
	return int64(f * mult), nil
}

// formatSize prints n in the largest unit that divides it, so a printed policy reads like
// the one written and parses back to the same number.
func formatSize(n int64) string {
	for _, u := range []struct {
		s string
		m int64
	}{{"PB", 1 << 50}, {"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}} {
		if n >= u.m && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}
