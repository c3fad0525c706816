# Sourced by the bench scripts: `need CMD PACKAGE` installs Debian's PACKAGE
# when CMD is missing (as root), else stops with the command to run.
need() {
    command -v "$1" >/dev/null && return
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y "$2" >/dev/null
    else
        echo "$1 missing: apt-get install $2" >&2
        exit 1
    fi
}
