#!/bin/sh
# An HTML5 player, as a CRM page embeds a recording: headless Chromium loads a page holding
# <audio preload="auto" src="URL"> (no Authorization header can be set on it) and prints, on
# its last line, what the element reported first:
#   canplaythrough duration=<seconds>   the browser loaded and can play it
#   error code=<MediaError code>        it could not (4: the source is not usable)
# usage: html5_player.sh URL
set -eu
url=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# The URL goes into an attribute: refuse what would break out of it.
case $url in *'"'*|*'<'*|*'>'*) echo "bad url" >&2; exit 2 ;; esac
cat > "$dir/page.html" <<HTML
<!doctype html><html><head><meta charset="utf-8"><title>player</title></head><body>
<audio id="a" preload="auto" src="$url"></audio>
<pre id="out">pending</pre>
<script>
const a = document.getElementById('a');
const done = (s) => { const o = document.getElementById('out'); if (o.textContent === 'pending') o.textContent = s; };
a.addEventListener('canplaythrough', () => done('canplaythrough duration=' + a.duration));
a.addEventListener('error', () => done('error code=' + (a.error && a.error.code)));
</script></body></html>
HTML
# The virtual time budget ends the run once the page is idle (or after 20 virtual seconds).
timeout 90 chromium --headless=new --no-sandbox --disable-gpu --mute-audio \
    --no-first-run --user-data-dir="$dir/profile" \
    --virtual-time-budget=20000 --dump-dom "file://$dir/page.html" 2>"$dir/stderr" \
    | sed -n 's/.*<pre id="out">\([^<]*\)<\/pre>.*/\1/p'
