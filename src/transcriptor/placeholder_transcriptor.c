/* placeholder so the module library is never empty */
int hm_transcriptor_module_placeholder;
