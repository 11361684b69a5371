# Sourced by the setup scripts that install a Debian package when it is missing
# (setup_browser.sh, setup_nginx.sh, and setup.sh for a Chinese font). Not run on its own.
#
#   apt_install "<what it is for>" package...
# Installs the packages with apt-get (as root, or with passwordless sudo) and
# returns 0 on success. On any obstacle it says what to do and returns 1; the
# callers then exit 0, so `make` goes on and the tests that need the package
# skip with the reason (CI fails instead).

apt_install() {
  local purpose=$1
  shift
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      echo "✗ installing $* needs root: run  sudo apt-get install -y $*" >&2
      return 1
    fi
  fi
  echo "→ installing $* from Debian's packages ($purpose)"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q >/dev/null || echo "  (apt-get update failed; trying the install anyway)" >&2
  if ! "${sudo[@]}" apt-get install -y -q --no-install-recommends "$@" >/dev/null; then
    echo "✗ apt-get install $* failed ($purpose)" >&2
    return 1
  fi
}
