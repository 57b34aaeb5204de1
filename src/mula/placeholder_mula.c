/* placeholder so the module library is never empty */
int hm_mula_module_placeholder;
