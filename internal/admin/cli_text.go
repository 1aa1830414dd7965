package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// The CLI's text output: short, aligned, for a terminal. Scripts use -json.

func printUsage(w io.Writer, body []byte) error {
	var u usageAnswer
	if err := json.Unmarshal(body, &u); err != nil {
		return err
	}
	key := u.Key
	fmt.Fprintf(w, "%s (%s, scope %s, period %s) key %s\n", printable(u.Quota), printable(u.Kind), printable(u.Scope), printable(orNone(u.Period, "unknown")), printable(key))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	limit := capText(u.LimitBytes, formatBytes)
	if len(u.PerGroup) > 0 {
		var parts []string
		for _, g := range slices.Sorted(maps.Keys(u.PerGroup)) {
			parts = append(parts, printable(g)+" "+formatBytes(u.PerGroup[g]))
		}
		limit = "per group: " + strings.Join(parts, ", ")
		if u.LimitBytes > 0 {
			limit = formatBytes(u.LimitBytes) + " + " + limit
		}
	}
	fmt.Fprintf(tw, "  bytes\t%s / %s\n", formatBytes(u.Bytes), limit)
	fmt.Fprintf(tw, "  requests\t%d / %s\n", u.Requests, capText(u.LimitRequests, func(n int64) string { return strconv.FormatInt(n, 10) }))
	if u.WindowEnd != nil {
		fmt.Fprintf(tw, "  window\tends %s\n", u.WindowEnd.UTC().Format(time.RFC3339))
	} else {
		fmt.Fprintf(tw, "  window\tnone running\n")
	}
	return tw.Flush()
}

func capText(n int64, f func(int64) string) string {
	if n == 0 {
		return "no cap"
	}
	return f(n)
}

func orNone(s, none string) string {
	if s == "" {
		return none
	}
	return s
}

// formatBytes: exact below 1 KiB, else one decimal in binary units with the exact count.
func formatBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	f, unit := float64(n), ""
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"} {
		f, unit = f/1024, u
		if f < 1024 {
			break
		}
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + unit
}

func printBlocks(w io.Writer, body []byte) error {
	var a struct{ Blocks []Block }
	if err := json.Unmarshal(body, &a); err != nil {
		return err
	}
	if len(a.Blocks) == 0 {
		_, err := fmt.Fprintln(w, "no blocks or bans")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tSCOPE\tSUBNET\tPATH\tUNTIL")
	for _, b := range a.Blocks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", printable(b.Kind), printable(b.Scope), printable(b.Subnet), printable(orNone(b.PathHash, "-")), b.Until.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

func printUnban(w io.Writer, body []byte) error {
	var a struct{ Scope, Subnet string }
	if err := json.Unmarshal(body, &a); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "lifted the blocks and bans of %s (%s)\n", printable(a.Subnet), printable(a.Scope))
	return err
}

// printable quotes a text that is empty or holds control characters, so nothing the API
// answers can break a line or send a terminal escape.
func printable(s string) string {
	if s == "" || strings.ContainsFunc(s, func(c rune) bool { return c < 0x20 || c == 0x7f || c >= 0x80 && c < 0xa0 }) {
		return strconv.Quote(s)
	}
	return s
}

func revocationText(r Revocation) string {
	what := printable(r.Path)
	if r.Prefix {
		what = "everything under " + r.Path
	}
	return what
}

func printRevoked(w io.Writer, body []byte) error {
	var r Revocation
	if err := json.Unmarshal(body, &r); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "revoked %s until %s\n", revocationText(r), r.Until.UTC().Format(time.RFC3339))
	return err
}

func printUnrevoked(w io.Writer, body []byte) error {
	var r Revocation
	if err := json.Unmarshal(body, &r); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "removed the revocation of %s\n", revocationText(r))
	return err
}

func printRevocations(w io.Writer, body []byte) error {
	var a struct{ Revocations []Revocation }
	if err := json.Unmarshal(body, &a); err != nil {
		return err
	}
	if len(a.Revocations) == 0 {
		_, err := fmt.Fprintln(w, "no revocations")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tPREFIX\tUNTIL")
	for _, r := range a.Revocations {
		fmt.Fprintf(tw, "%s\t%t\t%s\n", printable(r.Path), r.Prefix, r.Until.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

// printTree renders any JSON document (explain's trace, whose shape is the policy engine's)
// as indented "key: value" lines in the document's own order.
func printTree(w io.Writer, body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	v, err := decodeTree(dec, 0)
	if err != nil {
		return err
	}
	var b strings.Builder
	if v.scalar != "" {
		b.WriteString(v.scalar + "\n")
	} else {
		renderTree(&b, v, "")
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// tree is a JSON value that keeps its members' order. scalar is the text of a scalar ("" for
// an object or an array, which set isArr and members).
type tree struct {
	scalar  string
	isArr   bool
	keys    []string
	members []tree
}

func decodeTree(dec *json.Decoder, depth int) (tree, error) {
	if depth > 64 {
		return tree{}, fmt.Errorf("answer nested too deep")
	}
	tok, err := dec.Token()
	if err != nil {
		return tree{}, err
	}
	switch t := tok.(type) {
	case json.Delim:
		v := tree{isArr: t == '['}
		for dec.More() {
			if !v.isArr {
				k, err := dec.Token()
				if err != nil {
					return tree{}, err
				}
				v.keys = append(v.keys, printable(k.(string)))
			}
			m, err := decodeTree(dec, depth+1)
			if err != nil {
				return tree{}, err
			}
			v.members = append(v.members, m)
		}
		_, err := dec.Token() // the closing delimiter
		return v, err
	case string:
		return tree{scalar: printable(t)}, nil
	case nil:
		return tree{scalar: "null"}, nil
	default:
		return tree{scalar: fmt.Sprint(t)}, nil
	}
}

func renderTree(b *strings.Builder, v tree, indent string) {
	for i, m := range v.members {
		lead := indent
		if v.isArr {
			lead += "- "
		} else {
			lead += v.keys[i] + ":"
		}
		switch {
		case m.scalar != "" && v.isArr:
			b.WriteString(lead + m.scalar + "\n")
		case m.scalar != "":
			b.WriteString(lead + " " + m.scalar + "\n")
		case len(m.members) == 0 && m.isArr:
			b.WriteString(strings.TrimRight(lead, " ") + " []\n")
		case len(m.members) == 0:
			b.WriteString(strings.TrimRight(lead, " ") + " {}\n")
		case v.isArr:
			// "- " then the element's first line; its other lines align under it.
			var sub strings.Builder
			renderTree(&sub, m, indent+"  ")
			b.WriteString(lead + strings.TrimPrefix(sub.String(), indent+"  "))
		default:
			b.WriteString(lead + "\n")
			renderTree(b, m, indent+"  ")
		}
	}
}
