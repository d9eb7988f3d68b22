package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/xbuild/xbuild/image"
)

// historyView is a row as docker's --format sees it.
type historyView struct {
	ID           string
	CreatedAt    string
	CreatedSince string
	CreatedBy    string
	Size         string
	Comment      string
}

func runHistory(ctx context.Context, g *globals, args []string) error {
	fs := flagSet("history", g)
	noTrunc := fs.Bool("no-trunc", false, "do not truncate output")
	human := fs.BoolP("human", "H", true, "print sizes and dates in human readable format")
	quiet := fs.BoolP("quiet", "q", false, "only show image IDs")
	format := fs.String("format", "table", "table, json, or a Go template")
	rest, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	sys, err := openSystem(g)
	if err != nil {
		return err
	}
	img, err := sys.Images.Get(ctx, rest[0])
	if err != nil {
		return err
	}
	var views []historyView
	for _, r := range image.History(img) {
		views = append(views, viewRow(r, *noTrunc, *human))
	}
	switch {
	case *quiet:
		for _, v := range views {
			fmt.Println(v.ID)
		}
		return nil
	case *format == "json":
		enc := json.NewEncoder(os.Stdout)
		enc.SetEscapeHTML(false) // "<missing>" as docker prints it
		for _, v := range views {
			if err := enc.Encode(v); err != nil {
				return err
			}
		}
		return nil
	case *format == "table" || *format == "":
		tw := tabwriter.NewWriter(os.Stdout, 10, 1, 3, ' ', 0)
		fmt.Fprintln(tw, "IMAGE\tCREATED\tCREATED BY\tSIZE\tCOMMENT")
		for _, v := range views {
			created := v.CreatedSince
			if !*human {
				created = v.CreatedAt
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.ID, created, v.CreatedBy, v.Size, v.Comment)
		}
		return tw.Flush()
	}
	tmpl, err := template.New("format").Parse(strings.TrimPrefix(*format, "table "))
	if err != nil {
		return usageError{fmt.Errorf("invalid --format: %w", err)}
	}
	for _, v := range views {
		if err := tmpl.Execute(os.Stdout, v); err != nil {
			return err
		}
		fmt.Println()
	}
	return nil
}

func viewRow(r image.HistoryRow, noTrunc, human bool) historyView {
	v := historyView{ID: r.ID, CreatedBy: r.CreatedBy, Comment: r.Comment}
	if r.ID != "<missing>" {
		v.ID = shortID(r.ID, noTrunc)
	}
	if !r.Created.IsZero() {
		v.CreatedAt = r.Created.Format(time.RFC3339)
		v.CreatedSince = since(r.Created)
	} else {
		v.CreatedSince = "N/A"
	}
	if !noTrunc {
		v.CreatedBy = truncate(v.CreatedBy, 45)
	}
	if human {
		v.Size = humanSize(r.Size)
	} else {
		v.Size = strconv.FormatInt(r.Size, 10)
	}
	return v
}

func truncate(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
