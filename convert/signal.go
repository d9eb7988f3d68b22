package convert

import (
	"fmt"
	"strconv"
	"strings"
)

// linuxSignals are the signal names STOPSIGNAL accepts (with or without
// "SIG", any case), as moby/sys/signal's SignalMap for Linux.
var linuxSignals = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range strings.Fields(`ABRT ALRM BUS CHLD CLD CONT FPE HUP ILL INT IO IOT KILL
		PIPE POLL PROF PWR QUIT SEGV STKFLT STOP SYS TERM TRAP TSTP TTIN TTOU URG USR1 USR2
		VTALRM WINCH XCPU XFSZ RTMIN RTMAX`) {
		m[n] = true
	}
	for i := 1; i <= 15; i++ {
		m["RTMIN+"+strconv.Itoa(i)] = true
	}
	for i := 1; i <= 14; i++ {
		m["RTMAX-"+strconv.Itoa(i)] = true
	}
	return m
}()

// checkSignal validates a STOPSIGNAL value as BuildKit does (moby/sys
// signal.ParseSignal): a non-zero number or a known signal name.
func checkSignal(raw string) error {
	if n, err := strconv.Atoi(raw); err == nil {
		if n == 0 {
			return fmt.Errorf("invalid signal: %s", raw)
		}
		return nil
	}
	if !linuxSignals[strings.TrimPrefix(strings.ToUpper(raw), "SIG")] {
		return fmt.Errorf("invalid signal: %s", raw)
	}
	return nil
}
