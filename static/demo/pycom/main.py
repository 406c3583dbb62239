import sensor
print('demo app 2.1.0')
