#!/usr/bin/env bash
# Installs target/debian/auth0-ingest_*.deb on this machine (as root), checks
# its files, modes, conffile, token, config and unit, then purges it and
# checks that nothing is left. Used by .ci/run; works without systemd as
# PID 1. Prints the .deb size, the installed binary's size and the unit's
# exposure score.
set -euo pipefail
cd "$(dirname "$0")/.."

deb=$(ls target/debian/auth0-ingest_*.deb | tail -n 1)
fail() { echo "check-deb: $*" >&2; exit 1; }

if dpkg-query -W -f='${Status}' auth0-ingest 2>/dev/null | grep -q installed; then
  dpkg --purge auth0-ingest >/dev/null
fi
dpkg -i "$deb" >/dev/null

# path, mode, owner:group
expect() {
  local path=$1 mode=$2 owner=$3
  [ -e "$path" ] || fail "missing $path"
  local actual
  actual=$(stat -L -c '%a %U:%G' "$path")
  [ "$actual" = "$mode $owner" ] || fail "$path is $actual, expected $mode $owner"
}
expect /usr/bin/auth0-ingest 755 root:root
expect /etc/auth0-ingest/auth0-ingest.toml 644 root:root
expect /etc/auth0-ingest/webhook-tokens 640 root:auth0-ingest
expect /lib/systemd/system/auth0-ingest.service 644 root:root
expect /usr/lib/sysusers.d/auth0-ingest.conf 644 root:root
expect /usr/lib/tmpfiles.d/auth0-ingest.conf 644 root:root
expect /usr/share/man/man1/auth0-ingest.1.gz 644 root:root
expect /usr/share/man/man1/auth0-ingest-check-config.1.gz 644 root:root
expect /usr/share/bash-completion/completions/auth0-ingest 644 root:root
expect /usr/share/zsh/vendor-completions/_auth0-ingest 644 root:root
expect /usr/share/doc/auth0-ingest/README.md 644 root:root
expect /usr/share/doc/auth0-ingest/ARCHITECTURE.md 644 root:root
expect /usr/share/doc/auth0-ingest/fields/README.md 644 root:root
# Every man page the installed pages name is installed (no auth0-ingest-help(1)).
for page in $(zcat /usr/share/man/man1/auth0-ingest*.1.gz | grep -o 'auth0\\-ingest\\-[a-z\\-]*(1)' | sed 's/\\//g; s/(1)//' | sort -u); do
  [ -e "/usr/share/man/man1/$page.1.gz" ] || fail "a man page names $page(1), which is not installed"
done
# The tokens file is read where it lies (reload rotates it), not as a credential copy.
grep -q '^LoadCredential=webhook-tokens' /usr/lib/systemd/system/auth0-ingest.service /lib/systemd/system/auth0-ingest.service 2>/dev/null \
  && fail "the unit hands webhook-tokens as a LoadCredential= copy: reload cannot rotate it"
grep -q '^tokens_file = "/etc/auth0-ingest/webhook-tokens"' /etc/auth0-ingest/auth0-ingest.toml || fail "the config does not read the tokens file where it lies"
expect /usr/share/doc/auth0-ingest/examples/nginx-auth0-ingest.conf 644 root:root
expect /usr/share/doc/auth0-ingest/examples/auth0-ingest.toml 644 root:root
expect /var/lib/auth0-ingest 750 auth0-ingest:auth0-ingest
getent passwd auth0-ingest | grep -q ':/usr/sbin/nologin$' || fail "no system user auth0-ingest with nologin"
dpkg-query -W -f='${Conffiles}\n' auth0-ingest | grep -q '/etc/auth0-ingest/auth0-ingest.toml' \
  || fail "auth0-ingest.toml is not a conffile"
grep -Eqx '[0-9a-f]{64}' /etc/auth0-ingest/webhook-tokens || fail "webhook-tokens holds no random token"
# Stripped: no debug line tables in the package.
if readelf -SW /usr/bin/auth0-ingest | grep -Eq '\.debug_(line|info)'; then fail "the installed binary has debug sections"; fi
zcat /usr/share/man/man1/auth0-ingest.1.gz | grep -q 'check\\-config' || fail "man page lacks check-config"
grep -q 'check-config' /usr/share/bash-completion/completions/auth0-ingest || fail "bash completion lacks check-config"

# Reinstalling (an upgrade's path through postinst) keeps the token.
token=$(cat /etc/auth0-ingest/webhook-tokens)
dpkg -i "$deb" >/dev/null
[ "$(cat /etc/auth0-ingest/webhook-tokens)" = "$token" ] || fail "reinstalling replaced the token"
expect /etc/auth0-ingest/webhook-tokens 640 root:auth0-ingest

# The installed config is valid as installed, for root and for the agent's user.
auth0-ingest check-config --config /etc/auth0-ingest/auth0-ingest.toml
if command -v runuser >/dev/null; then
  runuser -u auth0-ingest -- auth0-ingest check-config --config /etc/auth0-ingest/auth0-ingest.toml
fi
systemd-analyze verify /lib/systemd/system/auth0-ingest.service
exposure=$(systemd-analyze security --offline=true /lib/systemd/system/auth0-ingest.service 2>/dev/null \
  | sed -n 's/.*Overall exposure level for auth0-ingest.service: \([0-9.]*\).*/\1/p')
awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 1.0) }' || fail "exposure $exposure > 1.0"

echo "check-deb: $(basename "$deb") $(stat -c %s "$deb") bytes; /usr/bin/auth0-ingest $(stat -c %s /usr/bin/auth0-ingest) bytes; exposure $exposure"

dpkg --purge auth0-ingest >/dev/null
for path in /usr/bin/auth0-ingest /etc/auth0-ingest /var/lib/auth0-ingest \
  /lib/systemd/system/auth0-ingest.service /usr/lib/sysusers.d/auth0-ingest.conf \
  /usr/lib/tmpfiles.d/auth0-ingest.conf /usr/share/doc/auth0-ingest /usr/share/man/man1/auth0-ingest.1.gz \
  /usr/share/man/man1/auth0-ingest-check-config.1.gz \
  /usr/share/bash-completion/completions/auth0-ingest /usr/share/zsh/vendor-completions/_auth0-ingest \
  /etc/systemd/system/multi-user.target.wants/auth0-ingest.service; do
  [ ! -e "$path" ] || fail "$path is left after purge"
done
! getent passwd auth0-ingest >/dev/null || fail "user auth0-ingest is left after purge"
! getent group auth0-ingest >/dev/null || fail "group auth0-ingest is left after purge"
! dpkg-query -W auth0-ingest >/dev/null 2>&1 || fail "dpkg still knows auth0-ingest"
! ls /var/lib/systemd/deb-systemd-helper-enabled/ 2>/dev/null | grep -q auth0-ingest \
  || fail "deb-systemd-helper state is left after purge"
echo "check-deb: installed, checked and purged: nothing left"
