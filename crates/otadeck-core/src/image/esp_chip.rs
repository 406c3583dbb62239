//! What esptool 5 knows about each chip that an image header names: the chip's name, how the
//! header's flash-frequency nibble reads for it, and its memory map (to name the memory a segment
//! loads into). Tables copied from esptool's `targets/*.py` (`FLASH_FREQUENCY`, `MEMORY_MAP`).

type Map = &'static [(u32, u32, &'static str)];

/// One chip known to esptool.
pub(crate) struct Chip {
    pub id: u16,
    pub name: &'static str,
    /// Header nibble to frequency name, in esptool's dictionary order.
    pub freqs: &'static [(u8, &'static str)],
    pub map: Map,
}

const F_40: &[(u8, &str)] = &[(15, "80m"), (0, "40m"), (1, "26m"), (2, "20m")];
const F_C2: &[(u8, &str)] = &[(15, "60m"), (0, "30m"), (1, "20m"), (2, "15m")];
const F_C6: &[(u8, &str)] = &[(0, "80m"), (0, "40m"), (2, "20m")];
const F_C5: &[(u8, &str)] = &[(15, "80m"), (0, "40m"), (2, "20m")];
const F_H2: &[(u8, &str)] = &[(15, "48m"), (0, "24m"), (1, "16m"), (2, "12m")];

const ESP32: Map = &[
    (0x0000_0000, 0x0001_0000, "PADDING"),
    (0x3F40_0000, 0x3F80_0000, "DROM"),
    (0x3F80_0000, 0x3FC0_0000, "EXTRAM_DATA"),
    (0x3FF8_0000, 0x3FF8_2000, "RTC_DRAM"),
    (0x3FF9_0000, 0x4000_0000, "BYTE_ACCESSIBLE"),
    (0x3FFA_E000, 0x4000_0000, "DRAM"),
    (0x3FFE_0000, 0x3FFF_FFFC, "DIRAM_DRAM"),
    (0x4000_0000, 0x4007_0000, "IROM"),
    (0x4007_0000, 0x4007_8000, "CACHE_PRO"),
    (0x4007_8000, 0x4008_0000, "CACHE_APP"),
    (0x4008_0000, 0x400A_0000, "IRAM"),
    (0x400A_0000, 0x400B_FFFC, "DIRAM_IRAM"),
    (0x400C_0000, 0x400C_2000, "RTC_IRAM"),
    (0x400D_0000, 0x4040_0000, "IROM"),
    (0x5000_0000, 0x5000_2000, "RTC_DATA"),
];
const ESP32S2: Map = &[
    (0x0000_0000, 0x0001_0000, "PADDING"),
    (0x3F00_0000, 0x3FF8_0000, "DROM"),
    (0x3F50_0000, 0x3FF8_0000, "EXTRAM_DATA"),
    (0x3FF9_E000, 0x3FFA_0000, "RTC_DRAM"),
    (0x3FF9_E000, 0x4000_0000, "BYTE_ACCESSIBLE"),
    (0x3FF9_E000, 0x4007_2000, "MEM_INTERNAL"),
    (0x3FFB_0000, 0x4000_0000, "DRAM"),
    (0x4000_0000, 0x4001_A100, "IROM_MASK"),
    (0x4002_0000, 0x4007_0000, "IRAM"),
    (0x4007_0000, 0x4007_2000, "RTC_IRAM"),
    (0x4008_0000, 0x4080_0000, "IROM"),
    (0x5000_0000, 0x5000_2000, "RTC_DATA"),
];
const ESP32S3: Map = &[
    (0x0000_0000, 0x0001_0000, "PADDING"),
    (0x3C00_0000, 0x3D00_0000, "DROM"),
    (0x3D00_0000, 0x3E00_0000, "EXTRAM_DATA"),
    (0x600F_E000, 0x6010_0000, "RTC_DRAM"),
    (0x3FC8_8000, 0x3FD0_0000, "BYTE_ACCESSIBLE"),
    (0x3FC8_8000, 0x403E_2000, "MEM_INTERNAL"),
    (0x3FC8_8000, 0x3FD0_0000, "DRAM"),
    (0x4000_0000, 0x4001_A100, "IROM_MASK"),
    (0x4037_0000, 0x403E_0000, "IRAM"),
    (0x600F_E000, 0x6010_0000, "RTC_IRAM"),
    (0x4200_0000, 0x4280_0000, "IROM"),
    (0x5000_0000, 0x5000_2000, "RTC_DATA"),
];
const ESP32C3: Map = &[
    (0x0000_0000, 0x0001_0000, "PADDING"),
    (0x3C00_0000, 0x3C80_0000, "DROM"),
    (0x3FC8_0000, 0x3FCE_0000, "DRAM"),
    (0x3FC8_8000, 0x3FD0_0000, "BYTE_ACCESSIBLE"),
    (0x3FF0_0000, 0x3FF2_0000, "DROM_MASK"),
    (0x4000_0000, 0x4006_0000, "IROM_MASK"),
    (0x4200_0000, 0x4280_0000, "IROM"),
    (0x4037_C000, 0x403E_0000, "IRAM"),
    (0x5000_0000, 0x5000_2000, "RTC_IRAM"),
    (0x5000_0000, 0x5000_2000, "RTC_DRAM"),
    (0x600F_E000, 0x6010_0000, "MEM_INTERNAL2"),
];
const ESP32C2: Map = &[
    (0x0000_0000, 0x0001_0000, "PADDING"),
    (0x3C00_0000, 0x3C40_0000, "DROM"),
    (0x3FCA_0000, 0x3FCE_0000, "DRAM"),
    (0x3FC8_8000, 0x3FD0_0000, "BYTE_ACCESSIBLE"),
    (0x3FF0_0000, 0x3FF5_0000, "DROM_MASK"),
    (0x4000_0000, 0x4009_0000, "IROM_MASK"),
    (0x4200_0000, 0x4240_0000, "IROM"),
    (0x4037_C000, 0x403C_0000, "IRAM"),
];
/// ESP32-C6 and ESP32-H2 share a map.
const ESP32C6: Map = &[
    (0x0000_0000, 0x0001_0000, "PADDING"),
    (0x4200_0000, 0x4300_0000, "DROM"),
    (0x4080_0000, 0x4088_0000, "DRAM"),
    (0x4080_0000, 0x4088_0000, "BYTE_ACCESSIBLE"),
    (0x4004_AC00, 0x4005_0000, "DROM_MASK"),
    (0x4000_0000, 0x4004_AC00, "IROM_MASK"),
    (0x4200_0000, 0x4300_0000, "IROM"),
    (0x4080_0000, 0x4088_0000, "IRAM"),
    (0x5000_0000, 0x5000_4000, "RTC_IRAM"),
    (0x5000_0000, 0x5000_4000, "RTC_DRAM"),
    (0x600F_E000, 0x6010_0000, "MEM_INTERNAL2"),
];
const ESP32C5: Map = &[
    (0x0000_0000, 0x0001_0000, "PADDING"),
    (0x4200_0000, 0x4400_0000, "DROM"),
    (0x4080_0000, 0x4086_0000, "DRAM"),
    (0x4080_0000, 0x4086_0000, "BYTE_ACCESSIBLE"),
    (0x4003_A000, 0x4004_0000, "DROM_MASK"),
    (0x4000_0000, 0x4003_A000, "IROM_MASK"),
    (0x4200_0000, 0x4400_0000, "IROM"),
    (0x4080_0000, 0x4086_0000, "IRAM"),
    (0x5000_0000, 0x5000_4000, "RTC_IRAM"),
    (0x5000_0000, 0x5000_4000, "RTC_DRAM"),
    (0x600F_E000, 0x6010_0000, "MEM_INTERNAL2"),
];
const ESP32C61: Map = &[
    (0x0000_0000, 0x0001_0000, "PADDING"),
    (0x4200_0000, 0x4400_0000, "DROM"),
    (0x4080_0000, 0x4086_0000, "DRAM"),
    (0x4080_0000, 0x4086_0000, "BYTE_ACCESSIBLE"),
    (0x4004_AC00, 0x4005_0000, "DROM_MASK"),
    (0x4000_0000, 0x4004_AC00, "IROM_MASK"),
    (0x4200_0000, 0x4400_0000, "IROM"),
    (0x4080_0000, 0x4086_0000, "IRAM"),
    (0x5000_0000, 0x5000_4000, "RTC_IRAM"),
    (0x5000_0000, 0x5000_4000, "RTC_DRAM"),
    (0x600F_E000, 0x6010_0000, "MEM_INTERNAL2"),
];
const ESP32P4: Map = &[
    (0x0000_0000, 0x0001_0000, "PADDING"),
    (0x4000_0000, 0x4C00_0000, "DROM"),
    (0x4FF0_0000, 0x4FFA_0000, "DRAM"),
    (0x4FF0_0000, 0x4FFA_0000, "BYTE_ACCESSIBLE"),
    (0x4FC0_0000, 0x4FC2_0000, "DROM_MASK"),
    (0x4FC0_0000, 0x4FC2_0000, "IROM_MASK"),
    (0x4000_0000, 0x4C00_0000, "IROM"),
    (0x4FF0_0000, 0x4FFA_0000, "IRAM"),
    (0x5010_8000, 0x5011_0000, "RTC_IRAM"),
    (0x5010_8000, 0x5011_0000, "RTC_DRAM"),
    (0x600F_E000, 0x6010_0000, "MEM_INTERNAL2"),
];

pub(crate) const CHIPS: &[Chip] = &[
    Chip {
        id: 0,
        name: "ESP32",
        freqs: F_40,
        map: ESP32,
    },
    Chip {
        id: 2,
        name: "ESP32-S2",
        freqs: F_40,
        map: ESP32S2,
    },
    Chip {
        id: 5,
        name: "ESP32-C3",
        freqs: F_40,
        map: ESP32C3,
    },
    Chip {
        id: 9,
        name: "ESP32-S3",
        freqs: F_40,
        map: ESP32S3,
    },
    Chip {
        id: 12,
        name: "ESP32-C2",
        freqs: F_C2,
        map: ESP32C2,
    },
    Chip {
        id: 13,
        name: "ESP32-C6",
        freqs: F_C6,
        map: ESP32C6,
    },
    Chip {
        id: 16,
        name: "ESP32-H2",
        freqs: F_H2,
        map: ESP32C6,
    },
    Chip {
        id: 18,
        name: "ESP32-P4",
        freqs: F_40,
        map: ESP32P4,
    },
    Chip {
        id: 20,
        name: "ESP32-C61",
        freqs: F_C5,
        map: ESP32C61,
    },
    Chip {
        id: 23,
        name: "ESP32-C5",
        freqs: F_C5,
        map: ESP32C5,
    },
];

pub(crate) fn chip(id: u16) -> Option<&'static Chip> {
    CHIPS.iter().find(|c| c.id == id)
}

/// esptool's name for the header's flash-frequency nibble on this chip.
pub(crate) fn flash_freq_name(chip_id: u16, nibble: u8) -> Option<&'static str> {
    chip(chip_id)?
        .freqs
        .iter()
        .find(|(n, _)| *n == nibble)
        .map(|(_, name)| *name)
}

/// The names of every memory region that contains `addr`, in esptool's order.
pub(crate) fn memory_types(chip_id: u16, addr: u32) -> Vec<&'static str> {
    chip(chip_id).map_or_else(Vec::new, |c| {
        c.map
            .iter()
            .filter(|(start, end, _)| *start <= addr && addr < *end)
            .map(|(_, _, name)| *name)
            .collect()
    })
}
