/* placeholder so the module library is never empty */
int hm_io_module_placeholder;
