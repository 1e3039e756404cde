// SPDX-License-Identifier: Apache-2.0
//
// memberlist peer for the side-by-side membership benchmark: one process
// per node, HashiCorp memberlist with DefaultLANConfig on 127.0.0.1. It
// reports (one JSON line on stdout) when it saw all N members, and the UDP
// packets and bytes it sent per second over a steady window after that.
// Built offline from Debian's golang-github-hashicorp-memberlist-dev.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// countingTransport wraps the default UDP/TCP transport and counts the
// datagrams and bytes this node sends.
type countingTransport struct {
	*memberlist.NetTransport
	packets uint64
	bytes   uint64
}

func (t *countingTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	atomic.AddUint64(&t.packets, 1)
	atomic.AddUint64(&t.bytes, uint64(len(b)))
	return t.NetTransport.WriteTo(b, addr)
}

func (t *countingTransport) WriteToAddress(b []byte, addr memberlist.Address) (time.Time, error) {
	atomic.AddUint64(&t.packets, 1)
	atomic.AddUint64(&t.bytes, uint64(len(b)))
	return t.NetTransport.WriteToAddress(b, addr)
}

func rssKiB() int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), "VmRSS:") {
			fields := strings.Fields(s.Text())
			v, _ := strconv.Atoi(fields[1])
			return v
		}
	}
	return -1
}

func main() {
	port := flag.Int("port", 0, "UDP/TCP port on 127.0.0.1")
	join := flag.String("join", "", "seed host:port")
	n := flag.Int("n", 1, "expected cluster size")
	steady := flag.Duration("steady", 10*time.Second, "measuring window after convergence")
	timeout := flag.Duration("timeout", 120*time.Second, "give up converging after this")
	name := flag.String("name", "", "node name")
	flag.Parse()

	start := time.Now()
	cfg := memberlist.DefaultLANConfig()
	cfg.Name = *name
	cfg.BindAddr = "127.0.0.1"
	cfg.BindPort = *port
	cfg.AdvertisePort = *port
	cfg.LogOutput = io.Discard
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{"127.0.0.1"},
		BindPort:  *port,
		Logger:    log.New(io.Discard, "", 0),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "transport:", err)
		os.Exit(1)
	}
	ct := &countingTransport{NetTransport: nt}
	cfg.Transport = ct
	ml, err := memberlist.Create(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "create:", err)
		os.Exit(1)
	}
	if *join != "" {
		for {
			if _, err := ml.Join([]string{*join}); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
			if time.Since(start) > *timeout {
				fmt.Fprintln(os.Stderr, "join timed out")
				os.Exit(1)
			}
		}
	}
	var converged time.Time
	for {
		if ml.NumMembers() >= *n {
			converged = time.Now()
			break
		}
		if time.Since(start) > *timeout {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	p0 := atomic.LoadUint64(&ct.packets)
	b0 := atomic.LoadUint64(&ct.bytes)
	time.Sleep(*steady)
	p1 := atomic.LoadUint64(&ct.packets)
	b1 := atomic.LoadUint64(&ct.bytes)
	out := map[string]interface{}{
		"name":              *name,
		"converged":         !converged.IsZero(),
		"converged_unix_ms": converged.UnixMilli(),
		"start_unix_ms":     start.UnixMilli(),
		"members":           ml.NumMembers(),
		"pkts_per_s":        float64(p1-p0) / steady.Seconds(),
		"bytes_per_s":       float64(b1-b0) / steady.Seconds(),
		"rss_kib":           rssKiB(),
	}
	enc, _ := json.Marshal(out)
	fmt.Println(string(enc))
	ml.Shutdown()
}
