/* placeholder so the module library is never empty */
int hm_codec_module_placeholder;
