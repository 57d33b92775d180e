# ckrv.pyz entry point (written by scripts/build-zipapp.sh in place of shiv's one-line
# __main__.py). When shiv has already unpacked this build, start ckrv straight from the
# unpacked copy; otherwise, or when any SHIV_* override other than SHIV_ROOT is set, hand over
# to shiv's own bootstrap, which unpacks and then starts ckrv the same way.
#
# Why: shiv's bootstrap opens the archive a second time and imports hashlib, subprocess and
# compileall on every run (about 50 ms here); this path costs a stat().
import os
import sys

BUILD_ID = "@BUILD_ID@"
ENTRY_MODULE, ENTRY_FUNCTION = "@ENTRY_MODULE@", "@ENTRY_FUNCTION@"


def _unpacked_site_packages():
    if any(name.startswith("SHIV_") and name != "SHIV_ROOT" for name in os.environ):
        return None
    root = os.environ.get("SHIV_ROOT") or os.path.join(os.path.expanduser("~"), ".shiv")
    name = os.path.basename(os.path.realpath(sys.argv[0]))
    # shiv unpacks into NAME_BUILDID.tmp and renames it when complete, so this exists only whole
    path = os.path.join(os.path.expanduser(root), f"{name}_{BUILD_ID}", "site-packages")
    return path if os.path.isdir(path) else None


def _start_unpacked(site_packages):
    import site

    # the same sys.path shiv's bootstrap builds: ours before any other site-packages
    length = len(sys.path)
    first_site = next(
        (
            i
            for i, part in enumerate(sys.path)
            if os.path.splitext(os.path.basename(part))[0] in ("site-packages", "dist-packages")
        ),
        length,
    )
    site.addsitedir(site_packages)
    sys.path[:] = sys.path[:first_site] + sys.path[length:] + sys.path[first_site:length]
    module = __import__(ENTRY_MODULE, fromlist=[ENTRY_FUNCTION])
    sys.exit(getattr(module, ENTRY_FUNCTION)())


_site_packages = _unpacked_site_packages()
if _site_packages is not None:
    _start_unpacked(_site_packages)
else:
    import _bootstrap

    _bootstrap.bootstrap()
