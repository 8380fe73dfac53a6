"""The training library: Lightning modules, data, export, and the scripts run as `python -m training.…`.

Run as a script on an install without the 'train' extra (the serving install), any of them stops here, before its
own imports, with the one line `pairscore train` gives: which extra to install.
"""

from pairscore import extras

if extras.running_as_script():
    extras.require("python -m training", "train")
