package image

import (
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// HistoryRow is one row of `xbuild history`, newest first.
type HistoryRow struct {
	ID        string // image ID on the top row, "<missing>" below, as docker prints
	Created   time.Time
	CreatedBy string
	Size      int64 // uncompressed size of the row's layer; 0 for empty_layer rows
	Comment   string
	Layer     *ocispec.Descriptor // nil for empty_layer rows
}

// History returns img's history rows, newest first. Layer rows are matched
// to the image's layers in order; if the history names more layers than the
// image has, the extra rows get no size.
func History(img *Image) []HistoryRow {
	rows := make([]HistoryRow, 0, len(img.Config.History))
	li := 0
	for _, h := range img.Config.History {
		r := HistoryRow{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment}
		if h.Created != nil {
			r.Created = *h.Created
		}
		if !h.EmptyLayer && li < len(img.Manifest.Layers) {
			d := img.Manifest.Layers[li]
			r.Layer = &d
			r.Size = LayerSize(d)
			li++
		}
		rows = append(rows, r)
	}
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	if len(rows) > 0 {
		rows[0].ID = img.ID().String()
	}
	return rows
}
