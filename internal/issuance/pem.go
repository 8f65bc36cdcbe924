package issuance

import (
	"bytes"
	"encoding/pem"
)

// pemBlocks is a walk over PEM text: the DER of each CERTIFICATE block in
// order, the 1-based positions and types of the other blocks, and whether
// text that is not PEM follows the last block. Each caller decides what it
// tolerates: an upload refuses anything but certificates, a CA's chain and
// a stored record skip what is not a certificate.
type pemBlocks struct {
	Certs    [][]byte
	Other    []otherBlock
	Trailing bool
}

type otherBlock struct {
	Pos  int
	Type string
}

func walkPEM(b []byte) pemBlocks {
	var out pemBlocks
	rest := b
	for n := 1; ; n++ {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" {
			out.Certs = append(out.Certs, blk.Bytes)
		} else {
			out.Other = append(out.Other, otherBlock{n, blk.Type})
		}
	}
	out.Trailing = len(bytes.TrimSpace(rest)) > 0
	return out
}
