/* `sluicectl fleet ...`: packs through the bus (sluicectl_fleet.c). argv[0] is
 * "fleet". Returns the exit status. */
#ifndef SLUICE_CONTROL_SLUICECTL_FLEET_H
#define SLUICE_CONTROL_SLUICECTL_FLEET_H

int sluicectl_fleet(int argc, char **argv);

#endif
