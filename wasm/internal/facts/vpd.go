package facts

// parseVPD80 reads a SCSI Unit Serial Number page (VPD page 0x80, SPC-4
// 7.8.18) as sysfs gives it in device/vpd_pg80: the peripheral byte, the
// page code 0x80, a big-endian length, then the serial number in ASCII,
// often padded with spaces. SATA disks behind libata show their serial only
// there. It returns "" for anything else.
func parseVPD80(b []byte) string {
	if len(b) < 4 || b[1] != 0x80 {
		return ""
	}
	n := int(b[2])<<8 | int(b[3])
	if n == 0 || 4+n > len(b) {
		return ""
	}
	return clean(b[4 : 4+n])
}
