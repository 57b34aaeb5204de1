/* placeholder so the module library is never empty */
int hm_text_module_placeholder;
