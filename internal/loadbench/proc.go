package loadbench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Build compiles the main package pkg of the module in dir into out.
func Build(ctx context.Context, dir, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// Proc is a server running as a child process.
type Proc struct {
	Name string
	Addr string // host:port it listens on
	// Ready is the time from starting the process to its first 200 from
	// the ready path.
	Ready time.Duration

	cmd     *exec.Cmd
	logPath string
	done    chan error
}

// Start runs bin with args and env (added to the environment), logging its
// stderr to logPath. The server must print "listening on http://ADDR" on
// stdout; Start then polls http://ADDR+readyPath every millisecond until it
// answers 200, within timeout.
func Start(ctx context.Context, name, bin string, args, env []string, logPath, readyPath string, timeout time.Duration) (*Proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, cmd: cmd, logPath: logPath, done: make(chan error, 1)}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			if _, addr, ok := strings.Cut(sc.Text(), "listening on http://"); ok && !sent {
				addrc <- strings.TrimSpace(addr)
				sent = true
			}
		}
		p.done <- cmd.Wait()
	}()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	select {
	case p.Addr = <-addrc:
	case err := <-p.done:
		p.done <- err
		return nil, fmt.Errorf("%s exited before listening: %v%s", name, err, p.logTail())
	case <-deadline.C:
		p.Stop()
		return nil, fmt.Errorf("%s did not print its address within %v%s", name, timeout, p.logTail())
	case <-ctx.Done():
		p.Stop()
		return nil, ctx.Err()
	}
	client := &http.Client{Timeout: time.Second}
	url := "http://" + p.Addr + readyPath
	for {
		resp, err := client.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.Ready = time.Since(started)
				client.CloseIdleConnections()
				return p, nil
			}
		}
		select {
		case <-deadline.C:
			p.Stop()
			return nil, fmt.Errorf("%s not ready within %v (last: %v)%s", name, timeout, err, p.logTail())
		case <-ctx.Done():
			p.Stop()
			return nil, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// PID returns the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Memory is what /proc/PID/status says of a process's memory, in bytes.
type Memory struct {
	RSS  int64 // VmRSS: resident now
	Peak int64 // VmHWM: the most resident since start or ResetPeak
	File int64 // RssFile: of RSS, file pages mapped in (such as a database), not the process's own
}

// Memory reads the process's memory figures from /proc/PID/status.
func (p *Proc) Memory() (Memory, error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(p.PID()), "status"))
	if err != nil {
		return Memory{}, err
	}
	defer f.Close()
	return ParseStatus(f)
}

// ResetPeak resets the process's peak RSS to its current RSS (Linux 4.0+),
// so the next Memory reports the peak of what follows.
func (p *Proc) ResetPeak() error {
	return os.WriteFile(filepath.Join("/proc", strconv.Itoa(p.PID()), "clear_refs"), []byte("5"), 0)
}

// ParseStatus reads VmRSS, VmHWM and RssFile from a /proc/PID/status.
func ParseStatus(r io.Reader) (Memory, error) {
	var m Memory
	fields := map[string]*int64{"VmRSS": &m.RSS, "VmHWM": &m.Peak, "RssFile": &m.File}
	sc := bufio.NewScanner(r)
	found := 0
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		dst := fields[name]
		if !ok || dst == nil {
			continue
		}
		f := strings.Fields(value)
		if len(f) != 2 || f[1] != "kB" {
			return Memory{}, fmt.Errorf("loadbench: %s: unexpected %q", name, value)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("loadbench: %s: %w", name, err)
		}
		*dst = kb << 10
		found++
	}
	if err := sc.Err(); err != nil {
		return Memory{}, err
	}
	if found != len(fields) {
		return Memory{}, errors.New("loadbench: no VmRSS, VmHWM and RssFile in status")
	}
	return m, nil
}

// CPUTime returns the user and system CPU time the process has used,
// from /proc/PID/stat (in clock ticks of 1/100 s, Linux's USER_HZ).
func (p *Proc) CPUTime() (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.PID()), "stat"))
	if err != nil {
		return 0, err
	}
	return ParseStatCPU(string(b))
}

// ParseStatCPU returns utime+stime from the text of a /proc/PID/stat.
func ParseStatCPU(stat string) (time.Duration, error) {
	// The command name, field 2, is in parentheses and may hold spaces.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("loadbench: malformed stat")
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, errors.New("loadbench: short stat")
	}
	var ticks int64
	for _, s := range f[11:13] { // fields 14 (utime) and 15 (stime)
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("loadbench: stat: %w", err)
		}
		ticks += v
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// Stop asks the process to exit (SIGTERM), kills it after 5 s, and waits.
func (p *Proc) Stop() error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		err := <-p.done
		p.done <- err
		return err
	}
}

// Alive reports an error if the process has exited.
func (p *Proc) Alive() error {
	select {
	case err := <-p.done:
		p.done <- err
		return fmt.Errorf("%s exited: %v%s", p.Name, err, p.logTail())
	default:
		return nil
	}
}

func (p *Proc) logTail() string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	if b = bytes.TrimSpace(b); len(b) == 0 {
		return ""
	}
	return "\n" + p.Name + " stderr:\n" + string(b)
}
