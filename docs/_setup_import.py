"""For blocks that use `rt` after an earlier block of their page imported something else."""
import raytrain as rt  # noqa: F401
