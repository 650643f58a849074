package buildspec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// statePath and pwdPath are where the EXIT trap saves the shell's state for its successor.
func (s *session) statePath() string { return filepath.Join(s.tmp, "state.sh") }
func (s *session) pwdPath() string   { return filepath.Join(s.tmp, "state.pwd") }

// shellQuote quotes v for sh and bash alike.
func shellQuote(v string) string {
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// bootstrap is the script the shell runs: helpers, the state restore, the EXIT trap and the
// command loop. Bookkeeping sits in groups with stderr sent to /dev/null so that a user's
// `set -x` traces their commands, not the loop around them.
func (s *session) bootstrap(restore string) string {
	half := len(s.token) / 2
	var b strings.Builder
	fmt.Fprintf(&b, "__sl_a=%s; __sl_b=%s\n", s.token[:half], s.token[half:])
	// __sl_next reads the next command. It skips, with a K marker, the rest of a batch after
	// a command of that batch failed, and announces the command it returns with an S marker.
	b.WriteString(`exec 8<&3 9>&4 3<&- 4>&-
__sl_skip=
__sl_next() {
  while :; do
    __sl_c= __sl_got=
    while IFS= command read -r __sl_l <&8; do
      case $__sl_l in
        "$__sl_a$__sl_b "*) __sl_got=1; break ;;
      esac
      __sl_c="$__sl_c$__sl_l
"
    done
    [ -n "$__sl_got" ] || return 1
    __sl_m=${__sl_l#"$__sl_a$__sl_b "}
    __sl_l=
    __sl_batch=${__sl_m%% *}
    __sl_seq=${__sl_m#* }
    if [ "$__sl_batch" != "$__sl_skip" ]; then
      command printf '%s%s %s S\n' "$__sl_a" "$__sl_b" "$__sl_seq" >&9
      __sl_st=0
      return 0
    fi
    command printf '%s%s %s K\n' "$__sl_a" "$__sl_b" "$__sl_seq" >&9
  done
}
`)
	state, pwd := shellQuote(s.statePath()), shellQuote(s.pwdPath())
	if s.posix {
		fmt.Fprintf(&b, "__sl_save() {\n  { export -p; set +o; } >%s 2>/dev/null\n  pwd >%s 2>/dev/null\n}\n", state, pwd)
	} else {
		fmt.Fprintf(&b, `__sl_save() {
  {
    mapfile -t __sl_vs < <(compgen -v)
    for __sl_n in "${__sl_vs[@]}"; do
      case $__sl_n in
        BASH|BASHOPTS|BASHPID|BASH_*|EUID|PPID|SHELLOPTS|UID|GROUPS|FUNCNAME|DIRSTACK|PIPESTATUS|RANDOM|SRANDOM|SECONDS|LINENO|HISTCMD|EPOCHSECONDS|EPOCHREALTIME|OPTIND|OPTARG|_|__sl_*) ;;
        *) declare -p "$__sl_n" ;;
      esac
    done
    declare -f
    shopt -p
    set +o
  } >%s 2>/dev/null
  pwd >%s 2>/dev/null
}
`, state, pwd)
	}
	if restore != "" {
		b.WriteString(restore)
		b.WriteString("\n")
	}
	// The one-pass for loop gives a stray break or continue in a command a loop of its own to
	// end, so it cannot leave the command loop without a status. printf and read go through
	// `command` so that a user function of the same name cannot hijack the protocol.
	b.WriteString(`trap __sl_save EXIT
while { __sl_next; } 2>/dev/null; do
  for __sl_once in 1; do eval "$__sl_c" 8<&- 9>&-; __sl_st=$?; done
  { [ "$__sl_st" -eq 0 ] || __sl_skip=$__sl_batch
    command printf '%s%s %s %s\n' "$__sl_a" "$__sl_b" "$__sl_seq" "$__sl_st" >&9; } 2>/dev/null
done
trap - EXIT
exit 0
`)
	return b.String()
}

// restoreScript turns what the EXIT trap saved into commands for the next shell. When nothing
// was saved (the user replaced the EXIT trap, or ran exec), the new shell starts from the
// build's initial environment.
func (s *session) restoreScript() (string, error) {
	state, err := os.ReadFile(s.statePath())
	if errors.Is(err, os.ErrNotExist) {
		s.lostState++
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read saved shell state: %w", err)
	}
	var b strings.Builder
	// The saved state goes through a file rather than the -c script so its size is not bound
	// by the argument limit.
	restore := filepath.Join(s.tmp, "restore.sh")
	if err := os.WriteFile(restore, state, 0o600); err != nil {
		return "", fmt.Errorf("write shell restore script: %w", err)
	}
	fmt.Fprintf(&b, ". %s 2>/dev/null\n", shellQuote(restore))
	if pwd, err := os.ReadFile(s.pwdPath()); err == nil {
		dir := strings.TrimSuffix(string(pwd), "\n")
		if dir != "" {
			fmt.Fprintf(&b, "cd -- %s 2>/dev/null || :\n", shellQuote(dir))
		}
	}
	os.Remove(s.statePath())
	os.Remove(s.pwdPath())
	return b.String(), nil
}
