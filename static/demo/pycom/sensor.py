# otadeck demo: read the sensor every 10 s
import time
INTERVAL = 10
