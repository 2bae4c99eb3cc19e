"""sim.run.allocator: glibc keeps freed chunk memory, unless the user opts out."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

CHECK = ("from sim.run.allocator import keep_freed_memory; "
         "print(keep_freed_memory(), keep_freed_memory())")


def _tuned(env_value: str | None) -> str:
    env = {} if env_value is None else {"FISCAL_SIM_KEEP_FREED_MEMORY": env_value}
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                         check=True, env={**_base_env(), **env})
    return out.stdout.strip()


def _base_env() -> dict:
    return {k: v for k, v in os.environ.items() if k != "FISCAL_SIM_KEEP_FREED_MEMORY"}


def test_opting_out_leaves_the_allocator_alone():
    assert _tuned("0") == "False False"


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="the allocator is tuned only with glibc")
def test_glibc_is_tuned_once_per_process():
    assert _tuned(None) == "True True"
