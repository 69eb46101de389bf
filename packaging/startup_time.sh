#!/usr/bin/env bash
# Seconds from launching a command to its "Heirloom" window being mapped (run under xvfb-run).
#   xvfb-run -a bash startup_time.sh dist/Heirloom/heirloom
set -u
home=$(mktemp -d)
export HOME=$home XDG_CONFIG_HOME=$home/.config XDG_DATA_HOME=$home/.local/share HEIRLOOM_HOME=$home/heirloom
start=$(date +%s.%N)
"$@" >/dev/null 2>>"${STARTUP_LOG:-/dev/null}" &
pid=$!
until xdotool search --onlyvisible --name Heirloom >/dev/null 2>&1; do
    kill -0 $pid 2>/dev/null || { echo "the app exited before showing a window"; exit 1; }
    sleep 0.02
done
end=$(date +%s.%N)
wid=$(xdotool search --onlyvisible --name Heirloom | head -1)
printf "visible after %.2f s  (title: %s; %s)\n" "$(echo "$end - $start" | bc)" "$(xdotool getwindowname $wid)" "$(xprop -id $wid WM_CLASS)"
kill $pid; wait $pid 2>/dev/null
rm -rf "$home"
