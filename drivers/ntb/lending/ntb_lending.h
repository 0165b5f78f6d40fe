/* SPDX-License-Identifier: GPL-2.0 */
/*
 * NTB device lending: state shared by the files of ntb_lending.ko.
 */
#ifndef _NTB_LENDING_H
#define _NTB_LENDING_H

struct ntb_dev;

/**
 * struct ntb_lending_adapter - lending state of one local NTB adapter
 * @ntb: the NTB device this state is bound to; set at probe, constant after
 */
struct ntb_lending_adapter {
	struct ntb_dev *ntb;
};

#endif /* _NTB_LENDING_H */
